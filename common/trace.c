/* trace.c: the writer behind trace.h: Chrome trace-event JSON in a file,
 * short lines on stderr, or both, from any number of threads. Shared by the
 * runtimes of the workbook; see trace.h for what each call records and the
 * README of common/ for how to read the result. */
#include "trace.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "errors.h"

/* ===== Data =====
 *
 * One lock guards everything here but the thread-locals: tracing is a tool
 * for looking, and one uncontended mutex per event is cheap next to writing
 * the event. Events are stamped and written under the lock, so the text
 * form comes out in time order, and the JSON file too. */

#define NAME_SIZE 64 /* names and details are cut to 63 bytes */
#define MAX_DEPTH 8  /* spans open at once on one track */

/* Events of one track are at least STEP ns apart. Viewers read "ts" (in
 * microseconds, printed with three decimals) as a double and may truncate
 * it by 1 ns, so events 1 ns apart could swap, and an arrow bind to the
 * wrong span; 2 ns apart they cannot. */
#define STEP 2

/* A wake is a span of 2 STEPs. Its arrow starts 1 STEP into it: viewers
 * bind the start of an arrow to the span open on that track at that time,
 * and "outside any span" would bind it to nothing (or to a stale one). */
#define WAKE_SPAN (2 * STEP)

atomic_bool trace_on;

enum span_kind { SPAN_POLL, SPAN_PARK };

struct span {
    enum span_kind kind;
    uint64_t task;        /* the task polled (SPAN_POLL) */
    char name[NAME_SIZE]; /* its name, or where the thread parks */
};

struct track {
    char name[NAME_SIZE];        /* "" until trace_thread() names it */
    uint64_t last_ns;            /* time of its latest event; the next is STEP later at least */
    int depth;                   /* spans open now */
    struct span open[MAX_DEPTH]; /* open[depth - 1] is the innermost */
};

struct wake {
    uint64_t task; /* who was woken: the arrow ends at its next poll */
    uint64_t flow; /* the arrow's id, unique in the file */
    int track;     /* where the arrow starts: the waker's track... */
    uint64_t ns;   /* ...and the time of the wake */
};

static struct {
    pthread_mutex_t lock;
    const char *setting; /* the value of ASYNC_TRACE, for messages */
    FILE *json;          /* the trace file, or NULL */
    bool text;           /* lines on stderr */
    bool failed;         /* a write to the file failed */
    uint64_t start_ns;   /* times in the trace count from here */
    int pid;
    struct track *tracks; /* track number n is tracks[n - 1] */
    size_t track_count, track_capacity;
    struct wake *wakes; /* wakes whose task has not been polled since (JSON only) */
    size_t wake_count, wake_capacity;
    uint64_t flows; /* arrows drawn so far */
} tr = {.lock = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local int own_track;      /* this thread's track; 0 before its first event */
static _Thread_local int switched_track; /* trace_track_switch()'s, or 0: own_track */
static atomic_uint_least64_t task_ids;

/* ===== Starting and stopping ===== */

static bool make_room(void **array, size_t count, size_t *capacity, size_t size);

/* Runs before main(), while the program has one thread: whatever it sets
 * is seen by every thread created later, and trace_on can be read without
 * a lock. */
__attribute__((constructor)) static void trace_start(void)
{
    const char *value = getenv("ASYNC_TRACE");
    if (value == NULL || value[0] == '\0')
        return;
    tr.setting = value;
    char *items = strdup(value), *path = NULL, *rest = NULL;
    if (items == NULL)
        die("ASYNC_TRACE: out of memory");
    for (char *item = strtok_r(items, ",", &rest); item != NULL;
         item = strtok_r(NULL, ",", &rest)) {
        if (strcmp(item, "-") == 0)
            tr.text = true;
        else if (path != NULL)
            die("ASYNC_TRACE='%s': name one file at most (and - for stderr)", value);
        else
            path = item;
    }
    if (path == NULL && !tr.text)
        die("ASYNC_TRACE='%s': expected FILE, - or FILE,-", value);
    if (path != NULL) {
        tr.json = fopen(path, "w");
        if (tr.json == NULL)
            die("ASYNC_TRACE='%s': %s: %s", value, path, strerror(errno));
    }
    free(items);
    /* The tables' first room, now: a program that counts its own
       allocations (ch05-runtime/i-scopes) then sees none from tracing
       while it runs, as long as it has at most 16 threads and 16 wakes
       waiting for their polls. */
    make_room((void **) &tr.tracks, 0, &tr.track_capacity, sizeof *tr.tracks);
    make_room((void **) &tr.wakes, 0, &tr.wake_capacity, sizeof *tr.wakes);
    tr.start_ns = now_ns();
    tr.pid = (int) getpid();
    if (tr.json != NULL)
        fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n", tr.json);
    atexit(trace_close);
    atomic_store_explicit(&trace_on, true, memory_order_relaxed);
}

static void end_span(int track, const char *state);
static void put_string(FILE *out, const char *s);

void trace_close(void)
{
    pthread_mutex_lock(&tr.lock);
    if (tr.json != NULL || tr.text) {
        atomic_store_explicit(&trace_on, false, memory_order_relaxed);
        for (size_t n = 1; n <= tr.track_count; n++)
            while (tr.tracks[n - 1].depth > 0)
                end_span((int) n, "unfinished");
        if (tr.json != NULL) {
            /* The last element carries no comma: the program's name. */
            fprintf(
                tr.json,
                "{\"ph\":\"M\",\"pid\":%d,\"name\":\"process_name\",\"args\":{\"name\":", tr.pid);
            put_string(tr.json, program_invocation_short_name);
            fputs("}}\n]}\n", tr.json);
            tr.failed |= ferror(tr.json) != 0;
            tr.failed |= fclose(tr.json) != 0;
            if (tr.failed)
                fprintf(stderr,
                        "%s: ASYNC_TRACE='%s': the trace is incomplete (a write or an allocation "
                        "failed)\n",
                        program_invocation_short_name, tr.setting);
        }
        tr.json = NULL;
        tr.text = false;
        free(tr.tracks);
        free(tr.wakes);
        tr.tracks = NULL;
        tr.wakes = NULL;
        tr.track_count = tr.track_capacity = 0;
        tr.wake_count = tr.wake_capacity = 0;
    }
    pthread_mutex_unlock(&tr.lock);
}

/* ===== Writing one event =====
 *
 * Every event goes through emit(), which writes it both ways, so the text
 * form and the JSON cannot disagree. */

struct event {
    char phase;      /* B, E: a span begins or ends; X: a wake's span; i: an instant */
    const char *cat; /* poll, park, wake, spawn, done, abort, register, timer */
    uint64_t ns;
    bool has_task;
    uint64_t task;
    const char *name;  /* the task's name, or what the event is about */
    const char *state; /* the end of a poll: pending, ready or unfinished */
};

static struct track *track_at(int n)
{
    return &tr.tracks[n - 1];
}

static void put_us(FILE *out, uint64_t ns)
{
    fprintf(out, "%llu.%03llu", (unsigned long long) (ns / 1000), (unsigned long long) (ns % 1000));
}

/* s as a JSON string: quotes, backslashes and control characters escaped. */
static void put_string(FILE *out, const char *s)
{
    putc('"', out);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            putc(c, out);
    }
    putc('"', out);
}

/* The start of an element of traceEvents, up to the timestamp. */
static void put_head(char phase, int track, uint64_t ns)
{
    fprintf(tr.json, "{\"ph\":\"%c\",\"pid\":%d,\"tid\":%d,\"ts\":", phase, tr.pid, track);
    put_us(tr.json, ns);
}

static void emit(int track, const struct event *e)
{
    if (tr.json != NULL) {
        put_head(e->phase, track, e->ns);
        if (e->phase == 'X') {
            fputs(",\"dur\":", tr.json);
            put_us(tr.json, WAKE_SPAN);
        }
        if (e->phase == 'i')
            fputs(",\"s\":\"t\"", tr.json); /* an instant of this thread only */
        fprintf(tr.json, ",\"cat\":\"%s\",\"name\":", e->cat);
        put_string(tr.json, e->name);
        if (e->has_task) {
            fprintf(tr.json, ",\"args\":{\"task\":%llu", (unsigned long long) e->task);
            if (e->state != NULL)
                fprintf(tr.json, ",\"state\":\"%s\"", e->state);
            fputc('}', tr.json);
        }
        fputs("},\n", tr.json);
        tr.failed |= ferror(tr.json) != 0;
    }
    if (tr.text) {
        /* The text form's word for it: the kind, but the end of a span says
           how the poll ended (pending, ready) or that the thread woke up. */
        const char *word = e->phase != 'E' ? e->cat : e->state != NULL ? e->state : "unpark";
        char task[32] = "";
        if (e->has_task)
            snprintf(task, sizeof task, "task %llu ", (unsigned long long) e->task);
        char thread[NAME_SIZE + 16]; /* "[executor 1]", or "[track 3]" before it has a name */
        if (track_at(track)->name[0] != '\0')
            snprintf(thread, sizeof thread, "[%s]", track_at(track)->name);
        else
            snprintf(thread, sizeof thread, "[track %d]", track);
        fprintf(stderr, "%9llu us  %-13s %-8s %s%s\n", (unsigned long long) (e->ns / 1000), thread,
                word, task, e->name);
    }
}

/* Copy a name, cut to NAME_SIZE - 1 bytes at a character boundary (never
 * inside a UTF-8 sequence, so the JSON stays valid UTF-8). */
static void copy_name(char *to, const char *from)
{
    size_t len = strlen(from);
    if (len >= NAME_SIZE) {
        len = NAME_SIZE - 1;
        while (len > 0 && ((unsigned char) from[len] & 0xC0) == 0x80)
            len--; /* from[len] continues a character: cut before it */
    }
    memcpy(to, from, len);
    to[len] = '\0';
}

/* ===== Tracks ===== */

/* Grow an array of *capacity items of `size` bytes to hold one more. Out of
 * memory, the trace loses the event (and says so when it closes) rather
 * than stop the program, which may be holding locks of its own. */
static bool make_room(void **array, size_t count, size_t *capacity, size_t size)
{
    if (count < *capacity)
        return true;
    size_t more = *capacity == 0 ? 16 : 2 * *capacity;
    void *grown = realloc(*array, more * size);
    if (grown == NULL) {
        tr.failed = true;
        return false;
    }
    *array = grown;
    *capacity = more;
    return true;
}

/* A new track; 0 if there is no memory for it. */
static int new_track(void)
{
    if (!make_room((void **) &tr.tracks, tr.track_count, &tr.track_capacity, sizeof *tr.tracks))
        return 0;
    tr.tracks[tr.track_count] = (struct track){.depth = 0};
    return (int) ++tr.track_count;
}

/* Take the lock and return the number of the track the calling thread's
 * events go to (making the thread's own on its first event); or 0, with the
 * lock released, once trace_close() has run. */
static int lock_track(void)
{
    pthread_mutex_lock(&tr.lock);
    if (tr.json == NULL && !tr.text) {
        pthread_mutex_unlock(&tr.lock);
        return 0;
    }
    if (own_track == 0)
        own_track = new_track();
    int n = switched_track != 0 ? switched_track : own_track;
    assert((size_t) n <= tr.track_count && "trace_track_switch() to a track that does not exist");
    if (n == 0)
        pthread_mutex_unlock(&tr.lock); /* no memory for this thread's track */
    return n;
}

/* Write what this call wrote before letting the next thread in: each call
 * costs one write() to the file, and a program that crashes leaves every
 * event it traced before the crash. */
static void unlock_and_flush(void)
{
    if (tr.json != NULL)
        fflush(tr.json);
    pthread_mutex_unlock(&tr.lock);
}

/* The time of a new event on track t: now, or STEP after its last event. */
static uint64_t stamp(struct track *t)
{
    uint64_t ns = now_ns() - tr.start_ns;
    if (ns < t->last_ns + STEP)
        ns = t->last_ns + STEP;
    t->last_ns = ns;
    return ns;
}

static void name_track(int n, const char *format, va_list args)
{
    char name[256];
    vsnprintf(name, sizeof name, format, args);
    copy_name(track_at(n)->name, name);
    if (tr.json == NULL)
        return;
    put_head('M', n, 0);
    fputs(",\"name\":\"thread_name\",\"args\":{\"name\":", tr.json);
    put_string(tr.json, track_at(n)->name);
    fputs("}},\n", tr.json);
    /* Lanes in the order the tracks appeared, not sorted by name. */
    put_head('M', n, 0);
    fprintf(tr.json, ",\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":%d}},\n", n);
}

void trace_do_thread(const char *format, ...)
{
    int n = lock_track();
    if (n == 0)
        return;
    va_list args;
    va_start(args, format);
    name_track(n, format, args);
    va_end(args);
    unlock_and_flush();
}

int trace_do_track_new(const char *format, ...)
{
    if (lock_track() == 0)
        return 0;
    int n = new_track();
    if (n == 0) {
        pthread_mutex_unlock(&tr.lock);
        return 0;
    }
    va_list args;
    va_start(args, format);
    name_track(n, format, args);
    va_end(args);
    unlock_and_flush();
    return n;
}

void trace_do_track_switch(int track)
{
    assert(track >= 0);
    switched_track = track;
}

/* ===== Spans ===== */

static void begin_span(int n, enum span_kind kind, uint64_t task, const char *name)
{
    struct track *t = track_at(n);
    assert(t->depth < MAX_DEPTH && "spans nested too deep: a trace_*_end() missing?");
    struct span *s = &t->open[t->depth++];
    s->kind = kind;
    s->task = task;
    copy_name(s->name, name);
    bool poll = kind == SPAN_POLL;
    emit(n, &(struct event){.phase = 'B',
                            .cat = poll ? "poll" : "park",
                            .ns = stamp(t),
                            .has_task = poll,
                            .task = task,
                            .name = s->name});
}

/* Close the innermost span of track n; `state` is how a poll ended. */
static void end_span(int n, const char *state)
{
    struct track *t = track_at(n);
    struct span *s = &t->open[--t->depth];
    bool poll = s->kind == SPAN_POLL;
    emit(n, &(struct event){.phase = 'E',
                            .cat = poll ? "poll" : "park",
                            .ns = stamp(t),
                            .has_task = poll,
                            .task = s->task,
                            .name = s->name,
                            .state = poll ? state : NULL});
}

static void instant(int n, const char *cat, bool has_task, uint64_t task, const char *name)
{
    emit(n, &(struct event){.phase = 'i',
                            .cat = cat,
                            .ns = stamp(track_at(n)),
                            .has_task = has_task,
                            .task = task,
                            .name = name});
}

/* ===== Wakes and their arrows =====
 *
 * A wake is written when it happens; its arrow cannot be, because where it
 * ends is not known yet. The wake waits in tr.wakes until its task's next
 * poll begins, and then both ends of the arrow are written at once: the
 * start ("s") inside the wake's span on the waker's track, the end ("f",
 * bound to the enclosing span: "bp":"e") inside the poll's span. So every
 * arrow in the file has both ends, and a wake no poll follows has none. */

static void draw_arrows_to(int n, uint64_t task, uint64_t poll_ns)
{
    size_t i = 0;
    while (i < tr.wake_count) {
        struct wake *w = &tr.wakes[i];
        if (w->task != task) {
            i++;
            continue;
        }
        put_head('s', w->track, w->ns + STEP);
        fprintf(tr.json, ",\"cat\":\"wake\",\"name\":\"wake\",\"id\":%llu},\n",
                (unsigned long long) w->flow);
        put_head('f', n, poll_ns + STEP);
        fprintf(tr.json, ",\"bp\":\"e\",\"cat\":\"wake\",\"name\":\"wake\",\"id\":%llu},\n",
                (unsigned long long) w->flow);
        *w = tr.wakes[--tr.wake_count]; /* their order does not matter */
    }
    track_at(n)->last_ns = poll_ns + STEP; /* the next event comes after the arrows' ends */
}

static void forget_wakes(uint64_t task)
{
    size_t i = 0;
    while (i < tr.wake_count) {
        if (tr.wakes[i].task == task)
            tr.wakes[i] = tr.wakes[--tr.wake_count];
        else
            i++;
    }
}

void trace_do_wake(uint64_t task, const char *name)
{
    int n = lock_track();
    if (n == 0)
        return;
    char copy[NAME_SIZE];
    copy_name(copy, name);
    struct track *t = track_at(n);
    uint64_t ns = stamp(t);
    struct event wake = {
        .phase = 'X', .cat = "wake", .ns = ns, .has_task = true, .task = task, .name = copy};
    emit(n, &wake);
    t->last_ns = ns + WAKE_SPAN; /* the wake's span ends before the next event */
    if (tr.json != NULL &&
        make_room((void **) &tr.wakes, tr.wake_count, &tr.wake_capacity, sizeof *tr.wakes))
        tr.wakes[tr.wake_count++] = (struct wake){task, ++tr.flows, n, ns};
    unlock_and_flush();
}

/* ===== The calls of trace.h ===== */

uint64_t trace_next_task_id(void)
{
    return atomic_fetch_add_explicit(&task_ids, 1, memory_order_relaxed) + 1;
}

/* An instant about a task that the runtime names: its spawn, or its abort,
 * which ends the task (`ends`): wakes still waiting for its next poll are
 * forgotten, as after its last poll. */
static void task_instant(const char *cat, uint64_t task, const char *name, bool ends)
{
    int n = lock_track();
    if (n == 0)
        return;
    char copy[NAME_SIZE];
    copy_name(copy, name);
    instant(n, cat, true, task, copy);
    if (ends)
        forget_wakes(task);
    unlock_and_flush();
}

void trace_do_spawn(uint64_t task, const char *name)
{
    task_instant("spawn", task, name, false);
}

void trace_do_poll_begin(uint64_t task, const char *name)
{
    int n = lock_track();
    if (n == 0)
        return;
    begin_span(n, SPAN_POLL, task, name);
    if (tr.json != NULL)
        draw_arrows_to(n, task, track_at(n)->last_ns);
    unlock_and_flush();
}

void trace_do_poll_end(uint64_t task, bool ready)
{
    int n = lock_track();
    if (n == 0)
        return;
    struct track *t = track_at(n);
    assert(t->depth > 0 && t->open[t->depth - 1].kind == SPAN_POLL &&
           t->open[t->depth - 1].task == task &&
           "trace_poll_end() without a trace_poll_begin() of that task on this thread");
    end_span(n, ready ? "ready" : "pending");
    if (ready) {
        instant(n, "done", true, task, t->open[t->depth].name); /* the span just closed */
        forget_wakes(task);
    }
    unlock_and_flush();
}

void trace_do_abort(uint64_t task, const char *name)
{
    task_instant("abort", task, name, true);
}

void trace_do_park_begin(const char *what)
{
    int n = lock_track();
    if (n == 0)
        return;
    begin_span(n, SPAN_PARK, 0, what);
    unlock_and_flush();
}

void trace_do_park_end(void)
{
    int n = lock_track();
    if (n == 0)
        return;
    struct track *t = track_at(n);
    assert(t->depth > 0 && t->open[t->depth - 1].kind == SPAN_PARK &&
           "trace_park_end() without a trace_park_begin() on this thread");
    end_span(n, NULL);
    unlock_and_flush();
}

static void note(const char *cat, const char *format, va_list args)
{
    char text[256], detail[NAME_SIZE];
    vsnprintf(text, sizeof text, format, args);
    copy_name(detail, text);
    int n = lock_track();
    if (n == 0)
        return;
    instant(n, cat, false, 0, detail);
    unlock_and_flush();
}

void trace_do_register(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    note("register", format, args);
    va_end(args);
}

void trace_do_timer(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    note("timer", format, args);
    va_end(args);
}

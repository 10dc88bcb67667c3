"""What `make grade` grades (scripts/workshop, docs/workshop.md).

GRADES maps each step that holds a lesson of the workshop (a LESSON region,
see docs/workshop.md) to its graded groups, in the order a student meets
them: (group, points, pytest node ids). A group earns its points when every
test of its node ids passes (a node id without [parameters] stands for all
of its parameters). Only plain builds are graded, and only tests that take a
few seconds: the grader runs on every save under `make watch`, and
tests/test_workshop.py runs each step's groups once per lesson. Every lesson
of a step must make at least one of its step's groups fail while it is
missing (tests/test_workshop.py checks that too).

This file is data: no test here.
"""

CH01 = "tests/test_ch01_block_on.py::"
CH02 = "tests/test_ch02_epoll.py::"
CH03 = "tests/test_ch03_fibers.py::"
CH04 = "tests/test_ch04_coroutines.py::"
CH05 = "tests/test_ch05_runtime.py::"
JOIN = "tests/test_ch05_f_join.py::"
UDP = "tests/test_ch05_h_udp.py::"
SCOPES = "tests/test_ch05_i_scopes.py::"
RINGS = "tests/test_ch06_io_uring.py::"
TIMERS = "tests/test_ch05_e_timers.py::"
CHANNELS = "tests/test_ch05_g_channels.py::"
BLOCKING = "tests/test_ch05_j_blocking.py::"
CORO = "tests/test_ch05_k_coroserver.py::"
PROACTOR = "tests/test_ch06_b_proactor.py::"
CANCEL = "tests/test_ch06_c_cancel.py::"

GRADES = {
    "ch01-block-on": [
        ("the demo prints what the README shows", 2, [CH01 + "test_demo_output_matches_readme"]),
        ("a thousand wake/poll round trips", 2, [CH01 + "test_checks_help_and_a_small_count"]),
        ("a finished future is not polled again", 1, [CH01 + "test_real_build_stops_a_poll_after_ready"]),
    ],
    "ch02-epoll": [
        ("responses come back in delay order", 2, [CH02 + "test_responses_arrive_in_reverse_order"]),
        ("a finished stream counts once", 1, [CH02 + "test_finished_stream_is_not_counted_twice"]),
        ("a silent server is given up on", 1, [CH02 + "test_gives_up_counting_only_what_never_came"]),
    ],
    "ch03-fibers/a-stack-swap": [
        ("hello runs on the new stack, and main gets back", 2,
         [CH03 + "test_stack_swap_runs_a_function_on_the_new_stack"]),
    ],
    "ch03-fibers/b-show-stack": [
        ("the stack top shows the planted addresses", 2,
         [CH03 + "test_show_stack_shows_the_planted_return_addresses"]),
    ],
    "ch03-fibers/c-fibers": [
        ("the fibers take turns", 2, [CH03 + "test_fibers_demo_interleaves_exactly"]),
        ("fiber-check passes", 2, [CH03 + "test_fiber_check_passes"]),
        # Skipped, and left out of the score, where no cross compiler or qemu is.
        ("the aarch64 switch, under qemu", 1, [CH03 + "test_aarch64_demo_interleaves_exactly"]),
    ],
    "ch04-coroutines/a-coroutine": [
        ("both requests, in order", 2, [CH04 + "test_a_hand_written_coroutine_runs_both_requests_in_order"]),
        ("a silent server is given up on", 1,
         [CH04 + "test_a_server_that_stops_answering_is_given_up[a-coroutine-silent]"]),
    ],
    "ch04-coroutines/b-async-await": [
        ("the requests run one after another", 2, [CH04 + "test_b_requests_run_one_after_another"]),
    ],
    "ch04-coroutines/c-async-await": [
        ("every request starts first, each finishes in delay order", 2,
         [CH04 + "test_c_all_requests_start_first_and_finish_in_delay_order"]),
    ],
    "ch04-coroutines/d-locals": [
        ("the locals survive every wait", 2, [CH04 + "test_d_locals_survive_every_wait"]),
    ],
    "ch05-runtime/a-runtime": [
        ("both responses, in order", 2, [CH05 + "test_a_prints_both_responses_in_order"]),
    ],
    "ch05-runtime/b-executor": [
        ("one executor runs every task", 2, [CH05 + "test_one_executor_runs_every_task[b]"]),
        ("requests run concurrently", 2, [CH05 + "test_requests_run_concurrently[b]"]),
    ],
    "ch05-runtime/c-reactor-thread": [
        ("one executor runs every task", 2, [CH05 + "test_one_executor_runs_every_task[c]"]),
        ("requests run concurrently", 2, [CH05 + "test_requests_run_concurrently[c]"]),
        ("a waker outliving its task is harmless", 1, [CH05 + "test_waker_after_finish[c]"]),
    ],
    "ch05-runtime/d-multi-thread": [
        ("every executor gets each of its responses once", 2, [CH05 + "test_d_every_response_exactly_once"]),
    ],
    "ch05-runtime/e-timers": [
        ("sleepers wake in order", 2, [TIMERS + "test_sleepers_wake_in_order_at_the_same_time"]),
        ("cancel, re-wake and failures", 1, [TIMERS + "test_cancel_rewake_and_failure_cases"]),
    ],
    "ch05-runtime/f-join": [
        ("join handles bring results back in order; detach", 2,
         [JOIN + "test_results_order_and_detach"]),
        ("join-check passes", 2, [JOIN + "test_join_check"]),
    ],
    "ch05-runtime/g-channels": [
        ("the pipeline delivers in order, then closes", 2, [CHANNELS + "test_pipeline_order_and_close"]),
        ("back pressure: full channels make senders wait", 2, [CHANNELS + "test_back_pressure_counters"]),
    ],
    "ch05-runtime/h-udp": [
        ("the echo exchange the README shows", 2, [UDP + "test_output_matches_readme"]),
        ("udp-check passes", 2, [UDP + "test_udp_check"]),
    ],
    "ch05-runtime/i-scopes": [
        ("a join waits for every child", 2, [SCOPES + "test_join_waits_for_all_in_deadline_order"]),
        ("a race cancels the losers", 2, [SCOPES + "test_race_cancels_the_losers"]),
    ],
    "ch05-runtime/j-blocking": [
        ("a long loop that yields leaves the ticker its turns", 2,
         [BLOCKING + "test_work_that_holds_the_thread_stalls_the_ticker"]),
    ],
    "ch05-runtime/k-coroserver": [
        ("the server answers, on one executor and on two", 3, [CORO + "test_threads"]),
    ],
    # Skipped, and left out of the score, where the kernel offers no io_uring.
    "ch06-io-uring/a-rings": [
        ("responses come back in delay order", 2, [RINGS + "test_responses_arrive_in_reverse_order"]),
    ],
    "ch06-io-uring/b-proactor": [
        ("one executor runs every task", 2, [PROACTOR + "test_one_executor_runs_every_task"]),
        ("requests run concurrently", 2, [PROACTOR + "test_requests_run_concurrently"]),
    ],
    "ch06-io-uring/c-cancel": [
        ("every request is answered", 2, [CANCEL + "test_without_patience_every_request_is_answered"]),
        ("the slow requests are dropped", 2, [CANCEL + "test_patience_drops_the_slow_requests"]),
    ],
}

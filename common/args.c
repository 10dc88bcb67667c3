/* args.c: the one checked number parser of the workbook's command lines;
 * see args.h. */
#include "args.h"

int parse_count(const char *text, unsigned long long min, unsigned long long max,
                unsigned long long *out)
{
    unsigned long long value = 0;
    if (*text == '\0')
        return -1;
    for (const char *c = text; *c != '\0'; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        unsigned digit = (unsigned) (*c - '0');
        if (digit > max || value > (max - digit) / 10) /* value * 10 + digit > max? */
            return -1;
        value = value * 10 + digit;
    }
    if (value < min)
        return -1;
    *out = value;
    return 0;
}

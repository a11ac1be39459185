// C code for the tests: what only C can do to a greenlet's stack.
#ifndef C_GREENLOOP_TEST_SUPPORT_H
#define C_GREENLOOP_TEST_SUPPORT_H

#include <stddef.h>

/// Calls a function whose frame holds `bytes` of locals and writes first to the lowest of them,
/// without probing the pages in between: the frame of C code compiled without
/// `-fstack-clash-protection`. Returns a byte of that frame.
int greenloop_test_big_frame(size_t bytes);

#endif

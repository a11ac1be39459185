#include "CGreenloopTestSupport.h"

#include <alloca.h>

__attribute__((noinline, no_stack_protector)) static int touch_lowest(size_t bytes) {
    // alloca moves the stack pointer by `bytes` at once; the store below is the first access in
    // the new frame, at its lowest address, the way a large local array's first element would be.
    volatile char *frame = alloca(bytes);
    frame[0] = 1;
    return frame[0];
}

int greenloop_test_big_frame(size_t bytes) {
    return touch_lowest(bytes);
}

// Header-only: see include/CBenchSupport.h.

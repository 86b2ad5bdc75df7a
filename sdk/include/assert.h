/*
 * assert.h - assert() panics with "file:line: assertion failed: expr (in
 * function)". Like every <assert.h>, this header may be included repeatedly
 * and follows NDEBUG at each inclusion.
 */
#undef assert

_Noreturn void pvrr__assert_fail(const char *expr, const char *file, int line, const char *func);

#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : pvrr__assert_fail(#e, __FILE__, __LINE__, __func__))
#endif

#ifndef static_assert
#define static_assert _Static_assert
#endif

"""Linux programs on each execution engine: the machine a static program sees is the
same on the emulator as under KVM (user mode, syscall/sysret, and every instruction
pvrr's CPUID table offers executed exactly, nothing it does not offer), and recordings
of Linux programs move between the engines.

Runs as it.linux_engines.emu and it.linux_engines.kvm (PVRR_BACKEND). The tests that
need both engines exist only in the kvm variant, where KVM is required (the emulator is
built into every pvrr); the emulator variant never needs KVM.
"""
import os

from pvrrtest import *
from test_linux import BUSYBOX, SQLITE_C, gcc_static, linux_engine, native

CPU_C = r"""
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((target("popcnt"))) static int pc64(uint64_t v) { return __builtin_popcountll(v); }
__attribute__((target("popcnt"))) static int pc32m(const uint32_t *p)
{
    int r;
    __asm__ volatile("popcnt %1, %0" : "=r"(r) : "m"(*p));
    return r;
}
__attribute__((target("pclmul,sse2"))) static void clmul(uint64_t a, uint64_t b, uint64_t o[2])
{
    __m128i x = _mm_set_epi64x(0, (long long)a), y = _mm_set_epi64x((long long)b, 0);
    _mm_storeu_si128((__m128i *)o, _mm_clmulepi64_si128(x, y, 0x10));
}
__attribute__((target("bmi"))) static uint64_t andn(uint64_t a, uint64_t b) { return _andn_u64(a, b); }

int main(int argc, char **argv)
{
    unsigned a, b, c, d;
    __cpuid_count(1, 0, a, b, c, d);
    printf("sse3=%u pclmul=%u ssse3=%u sse4.1=%u sse4.2=%u popcnt=%u xsave=%u osxsave=%u avx=%u\n",
           c & 1, (c >> 1) & 1, (c >> 9) & 1, (c >> 19) & 1, (c >> 20) & 1, (c >> 23) & 1,
           (c >> 26) & 1, (c >> 27) & 1, (c >> 28) & 1);
    __cpuid_count(7, 0, a, b, c, d);
    printf("bmi1=%u avx2=%u avx512f=%u\n", (b >> 3) & 1, (b >> 5) & 1, (b >> 16) & 1);
    uint64_t seed = strtoull(argv[1], 0, 0), acc = 0;
    uint32_t m = (uint32_t)seed * 2654435761u;
    for (int i = 0; i < 5000; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t r[2];
        clmul(seed, seed >> 7, r);
        acc += (uint64_t)pc64(seed) + r[0] + r[1] * 3 + andn(seed, acc) + (uint64_t)pc32m(&m);
        m ^= (uint32_t)seed;
    }
    printf("acc=%016llx\n", (unsigned long long)acc);
    return 0;
}
"""

AVX_C = r"""
#include <immintrin.h>
#include <stdio.h>
__attribute__((target("avx2"))) static long twice(long v)
{
    __m256i x = _mm256_set1_epi64x(v);
    return _mm256_extract_epi64(_mm256_add_epi64(x, x), 1);
}
int main(int argc, char **argv)
{
    (void)argv;
    printf("before\n");
    fflush(stdout);
    printf("%ld\n", twice(argc));
    return 0;
}
"""

# glibc's string functions, chosen by CPUID (SSE2/SSSE3/SSE4 variants under pvrr, AVX2
# ones natively on most hosts): every size and alignment up to 96 bytes must give the
# native results.
STRING_C = r"""
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static unsigned char buf[4096], buf2[4096];

int main(void)
{
    uint64_t h = 1469598103934665603ull, x = 88172645463325252ull;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ull)
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (unsigned char)('a' + x % 26);
    }
    for (size_t al = 0; al < 64; al++)
        for (size_t n = 0; n < 96; n++) {
            unsigned char *p = buf + 1024 + al;
            unsigned char save = p[n];
            p[n] = 0;
            MIX(strlen((char *)p));
            MIX(strnlen((char *)p, n / 2));
            char *q = strchr((char *)p, 'q');
            MIX(q ? q - (char *)p : -1);
            q = strrchr((char *)p, 'e');
            MIX(q ? q - (char *)p : -1);
            unsigned char *r = memchr(p, 'z', n);
            MIX(r ? r - p : -1);
            r = memrchr(p, 'a', n);
            MIX(r ? r - p : -1);
            memcpy(buf2 + al, p, n + 1);
            MIX(memcmp(buf2 + al, p, n + 1));
            buf2[al + n / 2] ^= 1;
            MIX(memcmp(buf2 + al, p, n + 1) > 0);
            MIX(strcmp((char *)buf2 + al, (char *)p) < 0);
            MIX(strncmp((char *)buf2 + al, (char *)p, n / 3) == 0);
            q = strstr((char *)p, "ab");
            MIX(q ? q - (char *)p : -1);
            MIX(strspn((char *)p, "abcdefgh"));
            MIX(strcspn((char *)p, "xyz"));
            memmove(buf2 + al + 3, buf2 + al, n);
            memset(buf2 + al, (int)n, n / 2);
            for (size_t k = 0; k < n + 3; k++)
                MIX(buf2[al + k]);
            p[n] = save;
        }
    printf("%016llx\n", (unsigned long long)h);
    return 0;
}
"""


def expected_acc(seed):
    """CPU_C's loop computed here, independent of any CPU."""
    mask = (1 << 64) - 1

    def clmul(a, b):
        r = 0
        for i in range(64):
            if (b >> i) & 1:
                r ^= a << i
        return r & mask, r >> 64

    acc, m = 0, (seed * 2654435761) & 0xffffffff
    for _ in range(5000):
        seed = (seed * 6364136223846793005 + 1442695040888963407) & mask
        lo, hi = clmul(seed, seed >> 7)
        acc = (acc + bin(seed).count("1") + lo + hi * 3 + (~seed & acc) + bin(m).count("1")) & mask
        m ^= seed & 0xffffffff
    return "%016x" % acc


class CpuFeatures(PvrrTestCase):
    """What pvrr's CPUID offers runs exactly; what it does not offer (AVX) is not there."""

    def setUp(self):
        super().setUp()
        linux_engine()

    def test_offered_instructions_run_exactly(self):
        exe = gcc_static(self.tmp, "cpu", CPU_C)
        r = self.run_ok("run", exe, "12345")
        out = text(r.stdout)
        # the fixed table: SSE up to 4.2, POPCNT, PCLMULQDQ, BMI1; no XSAVE, no AVX
        self.assertIn("sse3=1 pclmul=1 ssse3=1 sse4.1=1 sse4.2=1 popcnt=1 xsave=0 osxsave=0 "
                      "avx=0\n", out)
        self.assertIn("bmi1=1 avx2=0 avx512f=0\n", out)
        self.assertIn("acc=%s\n" % expected_acc(12345), out)
        log = self.tmp("cpu.pvlog")
        rr = self.run_ok("record", "-o", log, exe, "777")
        self.assertIn("acc=%s\n" % expected_acc(777), text(rr.stdout))
        self.run_ok("replay", "--check", log)
        self.assertEqual(self.run_ok("replay", log).stdout, rr.stdout)

    def test_avx_is_an_invalid_instruction(self):
        # CR4.OSXSAVE is clear (no XSAVE offered): a VEX-encoded AVX instruction raises
        # #UD on hardware, so the program gets SIGILL on every engine, after its output
        exe = gcc_static(self.tmp, "avx", AVX_C)
        r = pvrr("run", exe)
        self.assertEqual(r.returncode, 128 + 4, text(r.stderr))
        self.assertEqual(r.stdout, b"before\n")
        self.assertIn("SIGILL", text(r.stderr))

    def test_glibc_string_functions_equal_native(self):
        exe = gcc_static(self.tmp, "str", STRING_C)
        n = native(exe)
        self.assertEqual(n.returncode, 0)
        r = self.run_ok("run", exe)
        self.assertEqual(r.stdout, n.stdout)


def kvm_runs_linux():
    """'' if KVM runs a static Linux program here, else why not."""
    r = pvrr("run", "--backend", "kvm", BUSYBOX, "true", timeout=120)
    return "" if r.returncode == 0 else (text(r.stderr).strip() or "exit %d" % r.returncode)


class AcrossEngines(PvrrTestCase):
    """Recordings of Linux programs made on the emulator replay with --check; where KVM
    runs Linux programs, a recording made on either engine replays on the other."""

    def setUp(self):
        super().setUp()
        linux_engine()
        self.root = self.tmp("root")
        os.makedirs(os.path.join(self.root, "data"))
        with open(os.path.join(self.root, "data", "blob"), "wb") as f:
            f.write(os.urandom(3 << 20))
        self.md5 = native(BUSYBOX, "md5sum", "data/blob", cwd=self.root).stdout
        self.assertTrue(self.md5.endswith(b" data/blob\n"))

    def record_md5sum(self, engine, log):
        r = self.run_ok("record", "--backend", engine, "-o", log, "--root", self.root, BUSYBOX,
                        "md5sum", "/data/blob", timeout=600)
        self.assertEqual(r.stdout.replace(b" /data/", b" data/"), self.md5)
        return r

    def replay_check(self, engine, log, recorded):
        rp = self.run_ok("replay", "--backend", engine, "--check", log, timeout=600)
        self.assertNotIn("DIVERGED", text(rp.stderr))
        rp = self.run_ok("replay", "--backend", engine, log, timeout=600)
        self.assertEqual(rp.stdout, recorded.stdout)

    def test_emulator_recording_replays_with_check(self):
        log = self.tmp("md5.pvlog")
        r = self.record_md5sum("emu", log)
        info = self.run_ok("info", log)
        self.assertRegex(text(info.stdout), r"\bemu\b")
        os.unlink(os.path.join(self.root, "data", "blob"))  # the recording holds the data
        self.replay_check("emu", log, r)

    def test_emulator_sqlite_recording_replays_with_check(self):
        if not os.path.exists("/usr/include/sqlite3.h"):
            self.skipTest("libsqlite3-dev is not installed (tools/install-deps.sh)")
        exe = gcc_static(self.tmp, "sq", SQLITE_C, libs=["-lsqlite3", "-lm"])
        log = self.tmp("sq.pvlog")
        r = self.run_ok("record", "--backend", "emu", "-o", log, exe, "2000", "random")
        self.assertIn(b"count=2000 ", r.stdout)
        self.replay_check("emu", log, r)

    if backend() == "kvm":
        def test_recordings_move_between_engines(self):
            why = kvm_runs_linux()
            if why:
                self.fail("KVM cannot run Linux programs here: " + why[:300])
            for rec, rep in (("kvm", "emu"), ("emu", "kvm")):
                log = self.tmp("md5-%s.pvlog" % rec)
                r = self.record_md5sum(rec, log)
                self.replay_check(rep, log, r)
                self.replay_check(rec, log, r)


if __name__ == "__main__":
    main()

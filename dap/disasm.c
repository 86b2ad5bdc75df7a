/*
 * disasm.c - x86-64 instructions for the disassemble request, decoded by
 * capstone (Debian's libcapstone-dev), AT&T syntax like gdb's.
 */
#include "dap/internal.h"

#include <capstone/capstone.h>
#include <stdio.h>

size_t dap_disasm_one(const uint8_t *code, size_t len, uint64_t addr, char *buf, size_t n,
                      char *hex, size_t hn)
{
    static csh handle;
    static int opened = -1;
    if (opened < 0) {
        opened = cs_open(CS_ARCH_X86, CS_MODE_64, &handle) == CS_ERR_OK;
        if (opened)
            cs_option(handle, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
    }
    if (!opened || len == 0)
        return 0;
    cs_insn *insn = NULL;
    size_t count = cs_disasm(handle, code, len < 16 ? len : 16, addr, 1, &insn);
    if (count < 1)
        return 0;
    size_t size = insn[0].size;
    snprintf(buf, n, "%s%s%s", insn[0].mnemonic, insn[0].op_str[0] ? " " : "", insn[0].op_str);
    size_t k = 0;
    for (size_t i = 0; i < size && k + 3 <= hn; i++)
        k += (size_t)snprintf(hex + k, hn - k, "%s%02x", i ? " " : "", insn[0].bytes[i]);
    if (hn)
        hex[k < hn ? k : hn - 1] = 0;
    cs_free(insn, count);
    return size;
}

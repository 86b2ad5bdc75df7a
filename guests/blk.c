/*
 * blk - exercises the block device: writes a pattern to a few sectors at both
 * ends of the disk, reads them back and compares, then checksums the whole
 * disk (FNV-1a 64) and prints "blk: sectors=N checksum=0x...".
 *
 * Usage: blk [ro]    (ro: skip the write test; also skipped on a read-only disk)
 * Exit status: 0 ok, 1 an I/O error or a mismatch, 2 no disk attached.
 */
#include <pvrr/guest.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Sectors per transfer while checksumming (64 KiB, well under PVRR_IO_MAX). */
#define CHUNK_SECTORS 128u
/* Sectors written at each end of the disk by the write test. */
#define TEST_SECTORS 4u

static uint8_t buf[CHUNK_SECTORS * PVRR_BLK_SECTOR];
static uint8_t back[TEST_SECTORS * PVRR_BLK_SECTOR];

static void fill_pattern(uint8_t *p, uint64_t first_sector, unsigned nsectors)
{
    for (unsigned s = 0; s < nsectors; s++) {
        uint64_t sector = first_sector + s;
        for (unsigned i = 0; i < PVRR_BLK_SECTOR; i++)
            p[s * PVRR_BLK_SECTOR + i] = (uint8_t)((sector * 131 + i * 7) ^ 0xa5);
    }
}

/* Write the pattern to (n) sectors from (first), read them back, compare. */
static int write_test(uint64_t first, unsigned n)
{
    size_t len = (size_t)n * PVRR_BLK_SECTOR;
    fill_pattern(buf, first, n);
    int rc = pvrr_blk_write(first, buf, len);
    if (rc != PVRR_OK) {
        printf("blk: write of sectors %lu..%lu failed (%d)\n", (unsigned long)first,
               (unsigned long)(first + n - 1), rc);
        return -1;
    }
    memset(back, 0, sizeof back);
    rc = pvrr_blk_read(first, back, len);
    if (rc != PVRR_OK) {
        printf("blk: read of sectors %lu..%lu failed (%d)\n", (unsigned long)first,
               (unsigned long)(first + n - 1), rc);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (back[i] != buf[i]) {
            printf("blk: sector %lu byte %lu: wrote 0x%02x, read 0x%02x\n",
                   (unsigned long)(first + i / PVRR_BLK_SECTOR),
                   (unsigned long)(i % PVRR_BLK_SECTOR), buf[i], back[i]);
            return -1;
        }
    }
    printf("blk: sectors %lu..%lu verified\n", (unsigned long)first,
           (unsigned long)(first + n - 1));
    return 0;
}

int main(int argc, char **argv)
{
    struct pvrr_hc_blk_info info;
    pvrr_blk_info(&info);
    if (!info.present) {
        printf("blk: no disk attached (run with --disk FILE)\n");
        return 2;
    }
    printf("blk: disk of %lu sectors of %lu bytes, %s\n", (unsigned long)info.sectors,
           (unsigned long)info.sector_size, info.writable ? "writable" : "read-only");

    if (pvrr_arg(argc, argv, "ro") != NULL || !info.writable) {
        printf("blk: skipping the write test\n");
    } else if (info.sectors > 0) {
        unsigned n = info.sectors < TEST_SECTORS ? (unsigned)info.sectors : TEST_SECTORS;
        if (write_test(0, n) < 0)
            return 1;
        if (info.sectors >= 2 * TEST_SECTORS && write_test(info.sectors - n, n) < 0)
            return 1;
    }

    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 offset basis */
    for (uint64_t s = 0; s < info.sectors; s += CHUNK_SECTORS) {
        uint64_t n = info.sectors - s < CHUNK_SECTORS ? info.sectors - s : CHUNK_SECTORS;
        int rc = pvrr_blk_read(s, buf, (size_t)n * PVRR_BLK_SECTOR);
        if (rc != PVRR_OK) {
            printf("blk: read at sector %lu failed (%d)\n", (unsigned long)s, rc);
            return 1;
        }
        for (size_t i = 0; i < n * PVRR_BLK_SECTOR; i++) {
            h ^= buf[i];
            h *= 0x100000001b3ull; /* FNV-1a 64 prime */
        }
    }
    printf("blk: sectors=%lu checksum=0x%016lx\n", (unsigned long)info.sectors, (unsigned long)h);
    return 0;
}

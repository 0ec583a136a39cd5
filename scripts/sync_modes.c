// How long one durable log write takes, by how it reaches the disk: the measurement behind
// journal/2026-11-21-phase1-preallocated-log.md. One thread writes COUNT records of SIZE bytes
// to a fresh file under /tmp and makes each durable before the next:
//   0  write() at the end of the file, then fdatasync     (a log that appends)
//   1  pwrite() over zeros written and synced beforehand, then fdatasync   (reserved room)
//   2  the same file opened with O_DSYNC, no fdatasync
//   3  O_DIRECT | O_DSYNC, each write rounded out to 4 KiB blocks
//   4  room made with fallocate() (unwritten extents), then pwrite + fdatasync
// Build and run (not part of the CMake build; plain C, no dependencies):
//   gcc -O2 scripts/sync_modes.c -o /tmp/sync_modes
//   for m in 0 1 2 3 4; do /tmp/sync_modes $m 10000 2600; done
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double Now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void Check(int ok, const char* what) {
  if (!ok) {
    perror(what);
    exit(1);
  }
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s MODE COUNT SIZE\n", argv[0]);
    return 2;
  }
  const int mode = atoi(argv[1]);
  const long count = atol(argv[2]);
  const long size = atol(argv[3]);
  const char* path = "/tmp/sync_modes.dat";
  const long room = count * size + 65536;
  const long chunk = 1 << 20;
  void* buf;
  Check(size <= chunk - 8192 && posix_memalign(&buf, 4096, chunk) == 0, "buffer");
  memset(buf, 'y', chunk);
  unlink(path);
  int fd = open(path, O_RDWR | O_CREAT, 0644);
  Check(fd >= 0, "open");
  if (mode == 4) {
    Check(fallocate(fd, 0, 0, room) == 0 && fsync(fd) == 0, "fallocate");
  } else if (mode >= 1) {
    char* zeros = calloc(1, chunk);
    for (long at = 0; at < room; at += chunk) Check(pwrite(fd, zeros, chunk, at) == chunk, "zero");
    Check(fsync(fd) == 0 && close(fd) == 0, "sync zeros");
    free(zeros);
    int flags = O_RDWR;
    if (mode == 2) flags |= O_DSYNC;
    if (mode == 3) flags |= O_DSYNC | O_DIRECT;
    fd = open(path, flags);
    Check(fd >= 0, "reopen");
  }
  const double start = Now();
  long offset = 0;
  for (long i = 0; i < count; ++i, offset += size) {
    if (mode == 0) {
      Check(write(fd, buf, size) == size && fdatasync(fd) == 0, "append");
    } else if (mode == 1 || mode == 4) {
      Check(pwrite(fd, buf, size, offset) == size && fdatasync(fd) == 0, "overwrite");
    } else if (mode == 2) {
      Check(pwrite(fd, buf, size, offset) == size, "dsync write");
    } else {
      const long from = offset & ~4095L, to = (offset + size + 4095) & ~4095L;
      Check(pwrite(fd, buf, to - from, from) == to - from, "direct write");
    }
  }
  const double secs = Now() - start;
  printf("mode %d: %ld writes of %ld bytes, %.0f/s, %.1f us each\n", mode, count, size,
         (double)count / secs, secs / (double)count * 1e6);
  close(fd);
  unlink(path);
  return 0;
}

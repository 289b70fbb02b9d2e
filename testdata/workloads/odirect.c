// odirect: writes 64 KiB blocks with O_DIRECT to FILE and fsyncs after each,
// wrapping at 64 MiB, until killed: synchronous disk I/O.
// Usage: odirect FILE
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_DIRECT, 0600);
	if (fd < 0)
		return 1;
	void *buf;
	if (posix_memalign(&buf, 4096, 65536))
		return 1;
	memset(buf, 'x', 65536);
	off_t off = 0;
	for (;;) {
		if (pwrite(fd, buf, 65536, off) != 65536)
			return 1;
		fsync(fd);
		off += 65536;
		if (off >= 64 << 20)
			off = 0;
	}
}

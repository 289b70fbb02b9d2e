// syscall_heavy: the observer-overhead target of `make bench`. One thread
// loops over a 1-byte read of /dev/zero and a 1-byte write to /dev/null (two
// system calls per iteration, like dd bs=1), so anything that stops it at
// system calls (ptrace) shows at once in its throughput. The iteration count
// lives in an 8-byte counter mmap'ed from the file named by argv[1]: the
// benchmark reads the counter from its own mapping, without touching the
// process. Usage: syscall_heavy COUNTER_FILE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: syscall_heavy COUNTER_FILE\n");
		return 2;
	}
	int cf = open(argv[1], O_RDWR | O_CREAT, 0644);
	if (cf < 0 || ftruncate(cf, 4096) != 0) {
		perror(argv[1]);
		return 1;
	}
	volatile uint64_t *counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, cf, 0);
	if (counter == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	int in = open("/dev/zero", O_RDONLY), out = open("/dev/null", O_WRONLY);
	if (in < 0 || out < 0) {
		perror("open");
		return 1;
	}
	char c;
	for (;;) {
		if (read(in, &c, 1) != 1 || write(out, &c, 1) != 1)
			return 1;
		__atomic_store_n(counter, *counter + 1, __ATOMIC_RELAXED);
	}
}

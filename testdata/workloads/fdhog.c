// fdhog: lowers its RLIMIT_NOFILE soft limit to LIMIT (default 1024), opens
// descriptors until OPEN of them are in use (default 994), prints "started"
// and waits: a process near its descriptor limit.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char **argv) {
	int open_n = argc > 1 ? atoi(argv[1]) : 994;
	rlim_t limit = argc > 2 ? (rlim_t)atol(argv[2]) : 1024;
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = limit;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("setrlimit");
		return 1;
	}
	for (;;) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0) {
			perror("open");
			return 1;
		}
		if (fd + 1 >= open_n)
			break;
	}
	printf("started\n");
	fflush(stdout);
	for (;;)
		pause();
}

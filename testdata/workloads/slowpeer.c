// slowpeer: a client (this process) sends requests over loopback TCP to a
// server (a forked child) that answers each after a delay (default 200 ms),
// so the client spends its time blocked in read() on a connected socket.
// Usage: slowpeer [delay_ms]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	int delay = argc > 1 ? atoi(argv[1]) : 200;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 8))
		return 1;
	socklen_t al = sizeof a;
	getsockname(ls, (struct sockaddr *)&a, &al);
	pid_t child = fork();
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int c = accept(ls, NULL, NULL);
		char buf[64];
		struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
		for (;;) {
			if (read(c, buf, sizeof buf) <= 0)
				_exit(0);
			nanosleep(&ts, NULL);
			if (write(c, "pong\n", 5) != 5)
				_exit(0);
		}
	}
	close(ls);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(s, (struct sockaddr *)&a, sizeof a))
		return 1;
	char buf[64];
	for (;;) {
		if (write(s, "ping\n", 5) != 5)
			return 1;
		if (read(s, buf, sizeof buf) <= 0)
			return 1;
	}
}

// unreaped: forks a child every INTERVAL_MS (default 50) that exits at once,
// and never waits for it: its children pile up as zombies. Prints "started"
// after the first fork.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
	int ms = argc > 1 ? atoi(argv[1]) : 50;
	for (int i = 0;; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0) {
			perror("fork");
			sleep(1);
		}
		if (i == 0) {
			printf("started\n");
			fflush(stdout);
		}
		usleep(ms * 1000);
	}
}

// phases: idles in pause() until SIGUSR1, then spins on a CPU until
// killed: one process seen well, then busy (the baseline tests).
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t spin;

static void on_usr1(int sig) {
	(void)sig;
	spin = 1;
}

int main(void) {
	signal(SIGUSR1, on_usr1);
	printf("started\n");
	fflush(stdout);
	while (!spin)
		pause();
	for (;;) {
	}
}

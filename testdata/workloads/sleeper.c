// sleeper: sleeps one second at a time until killed.
#include <unistd.h>

int main(void) {
	for (;;)
		sleep(1);
}

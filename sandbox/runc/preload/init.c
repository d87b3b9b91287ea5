// racelab's init for the program's containers; see init.go. It does what
// a shell and coreutils' timeout did there, in one static process that
// needs no dynamic loader, no locale and no second exec:
//
//   init READY_FD GO_FD SIGNAL GRACE_MS TIMEOUT_MS PROGRAM [ARG...]
//
// With READY_FD >= 0 it writes a line on it (the container has started),
// and with GO_FD >= 0 it reads a line from it (racelab's go-ahead; the
// end of the pipe instead ends it with status 0, having run nothing).
// Both are closed before the program runs. It then runs the program as
// its child and waits for it, as the container's init: TIMEOUT_MS after
// the start it sends the program SIGNAL, and GRACE_MS after that (if not
// 0) SIGKILL. A signal it receives (racelab's SIGQUIT, the runtime's
// SIGTERM should racelab die) is passed on to the program and starts the
// same grace. It exits as the program did: its status, or 128+N after
// signal N; 125 for its own failure, 126 or 127 when the program could
// not be run.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what) {
	fprintf(stderr, "racelab init: %s: %s\n", what, strerror(errno));
	return 125;
}

static int number(const char *s, long *v) {
	char *end;
	errno = 0;
	*v = strtol(s, &end, 10);
	return errno == 0 && end != s && *end == '\0';
}

static int arm(long ms) {
	struct itimerval it = {0};
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	return setitimer(ITIMER_REAL, &it, NULL);
}

// The signals the init waits for; every other one a container's init
// gets from outside is dropped by the kernel (it has no handler).
static const int waited[] = {SIGCHLD, SIGALRM, SIGQUIT, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};

int main(int argc, char **argv) {
	long ready, go, sig, grace, limit;
	if (argc < 7 || !number(argv[1], &ready) || !number(argv[2], &go) || !number(argv[3], &sig) ||
	    !number(argv[4], &grace) || !number(argv[5], &limit) || sig <= 0 || sig >= NSIG || grace < 0 || limit <= 0) {
		fprintf(stderr, "usage: init READY_FD GO_FD SIGNAL GRACE_MS TIMEOUT_MS PROGRAM [ARG...]\n");
		return 125;
	}
	sigset_t set, old;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof waited / sizeof waited[0]; i++) {
		sigaddset(&set, waited[i]);
	}
	if (sigprocmask(SIG_BLOCK, &set, &old) < 0) {
		return fail("sigprocmask");
	}
	if (ready >= 0) {
		if (write((int)ready, "\n", 1) != 1) {
			return fail("write the ready line");
		}
		close((int)ready);
	}
	if (go >= 0) {
		char c = 0;
		ssize_t n;
		do {
			n = read((int)go, &c, 1);
		} while ((n < 0 && errno == EINTR) || (n == 1 && c != '\n'));
		if (n <= 0) {
			return 0; // no go-ahead: the container ends unused
		}
		close((int)go);
	}
	pid_t child = fork();
	if (child < 0) {
		return fail("fork");
	}
	if (child == 0) {
		for (size_t i = 0; i < sizeof waited / sizeof waited[0]; i++) {
			signal(waited[i], SIG_DFL);
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
		execv(argv[6], argv + 6);
		int code = errno == ENOENT ? 127 : 126;
		fprintf(stderr, "racelab init: %s: %s\n", argv[6], strerror(errno));
		_exit(code);
	}
	if (arm(limit) < 0) {
		kill(child, SIGKILL);
		return fail("setitimer");
	}
	int killing = 0; // the grace has started: the next alarm is SIGKILL
	for (;;) {
		int s = sigwaitinfo(&set, NULL);
		if (s < 0) {
			if (errno == EINTR) {
				continue;
			}
			kill(child, SIGKILL);
			return fail("sigwaitinfo");
		}
		if (s == SIGCHLD) {
			int st;
			pid_t p;
			while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
				if (p == child) {
					return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				}
			}
			continue;
		}
		int send = s;
		if (s == SIGALRM) {
			send = killing ? SIGKILL : (int)sig;
		}
		kill(child, send);
		if (!killing && send != SIGKILL && grace > 0) {
			killing = 1;
			arm(grace);
		}
	}
}

/*
 * A static probe run inside a test container (test_container.c compiles it
 * into the image): tries what the container must not be able to do and
 * prints "NAME ok" or "NAME denied <errno>" per attempt, then "uid N".
 * It refuses to run outside a user namespace (where the attempts would
 * change the host), and the /proc/sys write writes back the current value.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *name, long rc)
{
	if (rc < 0)
		printf("%s denied %d\n", name, errno);
	else
		printf("%s ok\n", name);
}

/* 1 when this process's user namespace is the initial one. */
static int initial_userns(void)
{
	char buf[128] = "";
	int fd = open("/proc/self/uid_map", O_RDONLY);
	if (fd < 0)
		return 1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	unsigned a, b, c;
	return n <= 0 ||
	       (sscanf(buf, "%u %u %u", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295u);
}

int main(void)
{
	if (initial_userns()) {
		fprintf(stderr, "ctprobe: refusing to run outside a container's user namespace\n");
		return 2;
	}
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	say("io_uring", syscall(__NR_io_uring_setup, 4, &p));
	say("raw_socket", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
	say("packet_socket", socket(AF_PACKET, SOCK_RAW, 0));
	say("unshare_user", unshare(CLONE_NEWUSER));
	say("unshare_mount", unshare(CLONE_NEWNS));
	say("unshare_net", unshare(CLONE_NEWNET));
	say("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
	say("keyctl", syscall(__NR_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
	say("bpf", syscall(__NR_bpf, 0, NULL, 0));
	long pid = syscall(__NR_clone, CLONE_NEWUTS | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	say("clone_newuts", pid);
	char host[128] = "";
	gethostname(host, sizeof host - 2);
	size_t hl = strlen(host);
	host[hl] = '\n';
	host[hl + 1] = '\0';
	int fd = open("/proc/sys/kernel/hostname", O_WRONLY);
	say("proc_sys_write", fd < 0 ? -1 : write(fd, host, strlen(host)));
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	say("fork", pid);
	printf("uid %d\n", (int)getuid());
	printf("probe done\n");
	fflush(stdout);
	for (;;)
		pause();
}

#include "threadprio.h"

#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int thread_set_nice(int nice)
{
    if (nice < 0 || nice > 19)
        return -EINVAL;
    if (nice == 0)
        return 0;
    /* PRIO_PROCESS with a thread id is that thread's own value (setpriority(2), NOTES). */
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int now = getpriority(PRIO_PROCESS, tid);
    if (errno)
        return -errno;
    if (now >= nice) /* already as low: never raise it (which would need a privilege) */
        return 0;
    if (setpriority(PRIO_PROCESS, tid, nice) != 0)
        return -errno;
    return 0;
}

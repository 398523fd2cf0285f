/*
 * async_cancel [ROUNDS] - ROUNDS (200) rounds of 4 threads that malloc and
 * free in a loop; threads 0 and 2 are PTHREAD_CANCEL_ASYNCHRONOUS (so they
 * are cancelled wherever they are, inside malloc or its hooks), 1 and 3
 * deferred (cancelled at pthread_testcancel). Once all 4 are in their loop,
 * main waits 5 ms, cancels them and joins them. Prints "rounds=R
 * cancelled=C" and exits 0 when every join returned PTHREAD_CANCELED.
 *
 * Natively this must never hang, so the loop stays within what glibc's
 * malloc does without a lock: sizes 16..79 come from the thread's tcache
 * once each bin has been through the arena, which a warm-up pass does
 * before the thread turns asynchronous. (Without the warm-up, a thread
 * preempted in its first, locked, malloc and cancelled there kept its
 * arena locked, and its exit deadlocked in tcache_thread_shutdown: 2 runs
 * of 40 hung natively on 2 cores.)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int ready;

static void *spin(void *arg)
{
    int async = (int)(intptr_t)arg;
    for (unsigned i = 0; i < 64; i++)
        free(malloc(16 + i));
    __atomic_add_fetch(&ready, 1, __ATOMIC_RELEASE);
    pthread_setcanceltype(async ? PTHREAD_CANCEL_ASYNCHRONOUS : PTHREAD_CANCEL_DEFERRED, NULL);
    for (unsigned i = 0;; i++) {
        void *p = malloc(16 + i % 64);
        free(p);
        if (!async)
            pthread_testcancel();
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 200, cancelled = 0;
    for (int r = 0; r < rounds; r++) {
        pthread_t t[4];
        __atomic_store_n(&ready, 0, __ATOMIC_RELEASE);
        for (int k = 0; k < 4; k++)
            if (pthread_create(&t[k], NULL, spin, (void *)(intptr_t)(k % 2 == 0)) != 0)
                return 2;
        while (__atomic_load_n(&ready, __ATOMIC_ACQUIRE) < 4)
            usleep(100);
        usleep(5000);
        for (int k = 0; k < 4; k++)
            pthread_cancel(t[k]);
        for (int k = 0; k < 4; k++) {
            void *res;
            pthread_join(t[k], &res);
            cancelled += res == PTHREAD_CANCELED;
        }
    }
    printf("rounds=%d cancelled=%d\n", rounds, cancelled);
    return cancelled == rounds * 4 ? 0 : 1;
}

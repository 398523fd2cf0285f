// throw_unwind - C++ exceptions thrown through optimized frames without
// frame pointers (built -O2 -fomit-frame-pointer), in two threads: the
// exception objects, the strings and vectors made on the way down and the
// allocations of destructors run while the stack unwinds are all captured
// from frames whose CFA moves with RSP (unwind_verify.sh).
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

struct Noisy {
    std::string *note;
    explicit Noisy(int i) : note(new std::string(40 + i % 7, 'n')) {}
    ~Noisy()
    {
        void *p = std::malloc(24 + note->size()); // allocates while unwinding
        std::free(p);
        delete note;
    }
};

__attribute__((noinline)) static long descend(int depth, int i)
{
    Noisy guard(i);
    std::vector<int> v(depth + 3, i);
    if (depth == 0) {
        if (i % 3)
            throw std::runtime_error(std::string("deep ") + std::to_string(i));
        return (long)v.size();
    }
    long r = descend(depth - 1, i) + v[0];
    asm volatile("" ::: "memory");
    return r;
}

__attribute__((noinline)) static long middle(int i)
{
    try {
        return descend(i % 9, i);
    } catch (const std::runtime_error &e) {
        if (i % 5 == 0)
            throw; // caught again above
        std::string *s = new std::string(e.what());
        long n = (long)s->size();
        delete s;
        return n;
    }
}

static long work(int n)
{
    long total = 0;
    for (int i = 0; i < n; i++) {
        try {
            total += middle(i);
        } catch (const std::exception &e) {
            total += 1;
        }
    }
    return total;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? std::atoi(argv[1]) : 2000;
    long a = 0, b = 0;
    std::thread t([&] { a = work(n); });
    b = work(n);
    t.join();
    std::printf("throw_unwind: %ld %ld\n", a, b);
    return a == b ? 0 : 1;
}

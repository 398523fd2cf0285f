/*
 * top_screen.c - leakhunt-top's full-screen view, on ncurses (Debian's
 * libncursesw): the lines of top_text.c, a key line at the bottom, a help
 * window, a filter prompt. ncurses handles SIGWINCH itself: a resize
 * comes as KEY_RESIZE with LINES and COLS already new, and the next draw
 * fits the screen (80x24 shows 15 rows of sites).
 *
 * Between refreshes (-d) the loop waits in getch for a key, so a key is
 * answered at once; while a long trace is being caught up it polls in
 * steps of 200 ms and draws between them.
 */
#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "top_cli.h"
#include "xalloc.h"

/* The curses screen is up: out of memory gives the terminal back before
 * the message (a shell left in curses mode shows neither). */
static int screen_up;

void top_nomem(void)
{
    if (screen_up)
        endwin();
    lh_nomem();
}

static const char *const keys_line = "m mark  b baseline  l/f/s/M group  / filter  p pause  ? help  q quit";

static void draw_help(void)
{
    int n = 0, w = 0;
    while (top_help_lines[n]) {
        int len = (int)strlen(top_help_lines[n]);
        w = len > w ? len : w;
        n++;
    }
    int h = n + 2;
    w += 4;
    if (h > LINES)
        h = LINES;
    if (w > COLS)
        w = COLS;
    int y = (LINES - h) / 2, x = (COLS - w) / 2;
    WINDOW *win = newwin(h, w, y > 0 ? y : 0, x > 0 ? x : 0);
    if (!win)
        return;
    werase(win);
    box(win, 0, 0);
    for (int i = 0; i < n && i + 1 < h - 1; i++)
        mvwaddnstr(win, i + 1, 2, top_help_lines[i], w - 4);
    wnoutrefresh(win);
    delwin(win);
}

static void draw(top_view *v, int help, int utf8, const char *prompt)
{
    top_line *l;
    int width = COLS > 1 ? COLS - 1 : 1;
    size_t n = top_compose(v, width, LINES - 1, 0, utf8, &l);
    erase();
    for (size_t i = 0; i < n && (int)i < LINES - 1; i++) {
        int attr = l[i].kind == TL_TITLE || l[i].kind == TL_NOTE ? A_BOLD : l[i].kind == TL_HEAD ? A_REVERSE : 0;
        attron(attr);
        mvaddstr((int)i, 0, l[i].text);
        if (l[i].kind == TL_HEAD)
            for (int x = getcurx(stdscr); x < width; x++)
                addch(' ');
        attroff(attr);
    }
    free(l);
    attron(A_REVERSE);
    mvaddnstr(LINES - 1, 0, prompt ? prompt : keys_line, width);
    attroff(A_REVERSE);
    wnoutrefresh(stdscr);
    if (help)
        draw_help();
    doupdate();
}

/* The / key: a line of text on the key line, Enter takes it (empty: no
 * filter), Esc leaves the filter as it was. */
static void read_filter(top_view *v, int utf8)
{
    char buf[256];
    size_t len = 0;
    buf[0] = 0;
    timeout(-1);
    curs_set(1);
    for (;;) {
        char prompt[300];
        snprintf(prompt, sizeof(prompt), "filter (Enter: apply, empty: none, Esc: cancel): %s", buf);
        draw(v, 0, utf8, prompt);
        move(LINES - 1, (int)strlen(prompt) < COLS - 1 ? (int)strlen(prompt) : COLS - 1);
        int ch = getch();
        if (ch == 27) /* Esc */
            break;
        if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
            snprintf(v->filter, sizeof(v->filter), "%s", buf);
            snprintf(v->message, sizeof(v->message), v->filter[0] ? "filter: %s" : "no filter%s", v->filter);
            break;
        }
        if ((ch == KEY_BACKSPACE || ch == 127 || ch == 8) && len)
            buf[--len] = 0;
        else if (ch >= 0x20 && ch < 0x100 && ch != 127 && len + 1 < sizeof(buf)) {
            buf[len++] = (char)ch;
            buf[len] = 0;
        }
    }
    curs_set(0);
}

int top_screen_run(top_view *v)
{
    setlocale(LC_ALL, "");
    int utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
    SCREEN *scr = newterm(NULL, stdout, stdin);
    if (!scr) {
        const char *term = getenv("TERM");
        fprintf(stderr, "leakhunt-top: cannot drive this terminal (TERM=%s): use -b for plain text\n",
                term ? term : "(unset)");
        return 2;
    }
    screen_up = 1;
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    set_escdelay(25);
    int help = 0;
    uint64_t next = 0;
    for (;;) {
        uint64_t now = top_now_ms();
        if (!v->paused && now >= next) {
            top_refresh(v, 200);
            now = top_now_ms();
            next = lh_top_caught_up(v->top) ? now + (uint64_t)(v->delay * 1000) : now;
        }
        if (!v->message[0])
            v->message_ms = 0;
        else if (!v->message_ms)
            v->message_ms = now;
        else if (now - v->message_ms > 10000 && !v->paused)
            v->message[0] = 0;
        draw(v, help, utf8, NULL);
        int wait = v->paused ? 1000 : (int)(next > now ? next - now : 0);
        timeout(wait);
        int ch = getch();
        if (ch == ERR || ch == KEY_RESIZE)
            continue;
        if (help) { /* any key closes the help; q quits from it too */
            help = 0;
            if (ch != 'q')
                continue;
        }
        v->message_ms = 0; /* a key's outcome is news again */
        switch (ch) {
        case 'q':
            screen_up = 0;
            endwin();
            delscreen(scr);
            return 0;
        case 'm':
            snprintf(v->message, sizeof(v->message), "m: marking...");
            draw(v, 0, utf8, NULL);
            top_mark(v);
            next = 0; /* read it back at once: the baseline moves to it */
            break;
        case 'b':
            if (lh_top_set_baseline(v->top) < 0)
                top_nomem();
            snprintf(v->message, sizeof(v->message), "baseline = now: growth counts from here");
            break;
        case 'l': v->by = LH_BY_LINE; break;
        case 'f': v->by = LH_BY_FUNCTION; break;
        case 's': v->by = LH_BY_STACK; break;
        case 'M': v->by = LH_BY_MODULE; break;
        case '/': read_filter(v, utf8); break;
        case 'p':
            v->paused = !v->paused;
            snprintf(v->message, sizeof(v->message), v->paused ? "paused (p goes on)" : "");
            next = 0;
            break;
        case '?': help = 1; break;
        default: break;
        }
    }
}

# bash completion for the leakhunt tools (installed once per command name
# into share/bash-completion/completions). Option names come from each
# tool's own --help, so they never fall behind; only option values are
# spelled here.

# The options a tool's --help lists: lines that start with one.
_leakhunt_options()
{
    "$1" --help 2>/dev/null | grep -oE -- '^ *(-[a-zA-Z], *)?--[a-z][a-z-]*' | grep -o -- '--.*' | sort -u
}

_leakhunt_pids()
{
    compgen -W "$(ls /proc | grep -x '[0-9]*')" -- "$1"
}

_leakhunt_traces()
{
    compgen -f -X '!*.lht' -- "$1"
    compgen -d -S / -- "$1"
}

# One candidate per line in, COMPREPLY out: file names may hold spaces.
_leakhunt_reply()
{
    mapfile -t COMPREPLY
}

_leakhunt()
{
    local cmd=$1 cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local i

    # leakhunt-record: everything after the program is the program's.
    if [[ ${cmd##*/} == leakhunt-record ]]; then
        for ((i = 1; i < COMP_CWORD; i++)); do
            case ${COMP_WORDS[i]} in
            --) break ;;
            -o|--output|--unwind|--depth|--rss-interval|--flush-interval|--python-stacks|--python-allocator|-p|--pid|--duration)
                ((i++)); continue ;;
            -*) continue ;;
            *) break ;;
            esac
        done
        if ((i < COMP_CWORD)); then
            [[ ${COMP_WORDS[i]} == -- ]] && ((i++))
            if ((i == COMP_CWORD)); then
                _leakhunt_reply < <(compgen -c -- "$cur"; compgen -f -- "$cur")
            else
                _leakhunt_reply < <(compgen -f -- "$cur")
            fi
            return
        fi
    fi

    case $prev in
    -o|--output|--folded|--flamegraph|--pprof|--speedscope|--html|--suppressions)
        _leakhunt_reply < <(compgen -f -- "$cur"); return ;;
    --unwind) _leakhunt_reply < <(compgen -W 'libunwind fp' -- "$cur"); return ;;
    --python-stacks) _leakhunt_reply < <(compgen -W 'inner full off' -- "$cur"); return ;;
    --python-allocator) _leakhunt_reply < <(compgen -W 'hook malloc off' -- "$cur"); return ;;
    --by) _leakhunt_reply < <(compgen -W 'stack function line module' -- "$cur"); return ;;
    --format) _leakhunt_reply < <(compgen -W 'text json' -- "$cur"); return ;;
    --value) _leakhunt_reply < <(compgen -W 'live_bytes live_count alloc_bytes alloc_count' -- "$cur"); return ;;
    --at|--diff) _leakhunt_reply < <(compgen -W 'start peak end 50% mark:' -- "$cur"); return ;;
    -p|--pid) _leakhunt_reply < <(_leakhunt_pids "$cur"); return ;;
    --depth|--rss-interval|--flush-interval|--duration|--top|--min-bytes|--windows|--temporary-ms|-d|-n)
        return ;;
    esac
    # --diff takes two moments.
    if ((COMP_CWORD >= 3)) && [[ ${COMP_WORDS[COMP_CWORD-2]} == --diff ]]; then
        _leakhunt_reply < <(compgen -W 'start peak end 50% mark:' -- "$cur"); return
    fi

    if [[ $cur == -* ]]; then
        _leakhunt_reply < <(compgen -W "$(_leakhunt_options "$cmd")" -- "$cur")
        return
    fi
    case ${cmd##*/} in
    leakhunt-mark)
        if ((COMP_CWORD == 1)); then
            _leakhunt_reply < <(_leakhunt_pids "$cur")
        fi ;;
    leakhunt-top)
        _leakhunt_reply < <(_leakhunt_pids "$cur"; _leakhunt_traces "$cur") ;;
    leakhunt-record)
        _leakhunt_reply < <(compgen -c -- "$cur"; compgen -f -- "$cur") ;;
    *)
        _leakhunt_reply < <(_leakhunt_traces "$cur") ;;
    esac
}

complete -o filenames -F _leakhunt leakhunt-record leakhunt-replay leakhunt-mark leakhunt-dump leakhunt-top

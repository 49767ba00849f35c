"""`authzd completion bash|zsh|fish`: shell completion generated from the parser
itself, so a new command or flag completes without anyone editing a script.

Usage: `source <(authzd completion bash)` (or put the output in
/etc/bash_completion.d/authzd); zsh: `source <(authzd completion zsh)`; fish:
`authzd completion fish > ~/.config/fish/completions/authzd.fish`.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

SHELLS = ("bash", "zsh", "fish")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish)",
        description="Print a completion script for commands and flags. bash: "
        "`source <(authzd completion bash)`; zsh: `source <(authzd completion zsh)`; fish: "
        "`authzd completion fish > ~/.config/fish/completions/authzd.fish`.",
    )
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(func=run)


def tree(parser: argparse.ArgumentParser, path: str = "") -> Iterator[tuple[str, list[str],
                                                                          list[str]]]:
    """(command path, its subcommands, its flags) for every (sub)command."""
    commands: list[str] = []
    flags: list[str] = []
    children: list[tuple[str, argparse.ArgumentParser]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                commands.append(name)
                children.append((name, child))
        elif action.help != argparse.SUPPRESS:
            flags.extend(o for o in action.option_strings if o.startswith("--"))
    yield path, commands, sorted(set(flags))
    for name, child in children:
        yield from tree(child, f"{path} {name}".strip())


def _cases(parser: argparse.ArgumentParser, bash: bool, what: str) -> str:
    lines = []
    for path, commands, flags in tree(parser):
        words = " ".join(commands if what == "commands" else commands + flags)
        if bash:
            lines.append(f'        "{path}") echo "{words}" ;;')
        else:
            lines.append(f"        case '{path}'\n            echo {words}")
    return "\n".join(lines)


def bash_script(parser: argparse.ArgumentParser) -> str:
    return f"""# authzd completion for bash (and zsh through bashcompinit)
_authzd_commands() {{
    case "$1" in
{_cases(parser, True, "commands")}
    esac
}}
_authzd_words() {{
    case "$1" in
{_cases(parser, True, "words")}
    esac
}}
_authzd() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" path="" word i
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        case "$word" in -*) continue ;; esac
        case " $(_authzd_commands "$path") " in
            *" $word "*) path="${{path:+$path }}$word" ;;
        esac
    done
    COMPREPLY=($(compgen -W "$(_authzd_words "$path")" -- "$cur"))
}}
complete -F _authzd authzd
"""


def zsh_script(parser: argparse.ArgumentParser) -> str:
    return ("# authzd completion for zsh\n"
            "autoload -U +X bashcompinit && bashcompinit\n" + bash_script(parser))


def fish_script(parser: argparse.ArgumentParser) -> str:
    return f"""# authzd completion for fish
function __authzd_commands
    switch "$argv"
{_cases(parser, False, "commands")}
    end
end
function __authzd_words
    switch "$argv"
{_cases(parser, False, "words")}
    end
end
function __authzd_complete
    set -l path
    for word in (commandline -opc)[2..-1]
        string match -q -- '-*' $word; and continue
        if contains -- $word (string split ' ' -- (__authzd_commands $path))
            set path $path $word
        end
    end
    string split ' ' -- (__authzd_words $path)
end
complete -c authzd -f -a '(__authzd_complete)'
"""


def run(args: argparse.Namespace) -> int:
    from .main import build_parser

    parser = build_parser(["serve"])  # the full tree, `serve`'s flags included
    script = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[args.shell](parser)
    print(script, end="")
    return 0

#!/usr/bin/python3
"""The OPTIONS sections of the man pages, from the daemons' --help.

  man/options.py generate BINARY PAGE   rewrite PAGE's options between its markers
  man/options.py check BINARY PAGE      fail when an option of BINARY --help is not in PAGE

The pages are written by hand and kept in the tree, because a cross build cannot run the
binary to make them; only the option lists come from --help, by running `generate` after an
option changes (the check, a ctest, says when). A help line is "  --name ARG  text": name and
argument padded to a column, or followed by one space when they are longer.
"""
import re
import subprocess
import sys

BEGIN = '.\\" BEGIN OPTIONS: made by man/options.py from --help; edit the option table instead'
END = '.\\" END OPTIONS'
OPTION = re.compile(r'^  (--[a-z0-9][a-z0-9-]*)(.*)$')
# web_root's default is where the build put the dashboard: not the installed one.
BUILD_PATH_DEFAULT = re.compile(r' \(default /[^)]*\)$')


def help_text(binary):
    out = subprocess.run([binary, '--help'], capture_output=True, text=True, check=False)
    text = out.stdout + out.stderr
    if '--' not in text:
        sys.exit(f'options.py: {binary} --help printed no options')
    return text


def parse(text):
    """(heading, [(option, argument, description)]) groups, in --help's order."""
    groups, heading = [], None
    for line in text.splitlines():
        m = OPTION.match(line)
        if not m:
            if line.startswith('meterd analyze'):
                heading = 'meterd analyze:'
            elif line and not line.startswith(' ') and line.rstrip().endswith(':'):
                heading = line.rstrip()
            continue
        name, rest = m.groups()
        if re.match(r'^ {2,}', rest) or rest == '':
            arg, desc = '', rest.strip()
        elif re.match(r'^ \S+ {2,}', rest):
            arg, desc = rest.split(None, 1)[0], rest.strip().split(None, 1)[1].strip()
        else:  # name and argument past the column: one space before the text
            parts = rest.strip().split(' ', 1)
            arg, desc = parts[0], parts[1] if len(parts) > 1 else ''
        if name == '--web-root':
            desc = BUILD_PATH_DEFAULT.sub('', desc)
        if not groups or groups[-1][0] != heading:
            groups.append((heading, []))
        groups[-1][1].append((name, arg, desc))
    return groups


def roff_text(s):
    s = s.replace('\\', '\\e').replace('-', '\\-')
    if s.startswith(('.', "'")):
        s = '\\&' + s
    return s


def roff(groups):
    lines = [BEGIN]
    for heading, options in groups:
        if len(groups) > 1 and heading:
            lines += ['.SS "%s"' % heading.rstrip(':').replace('"', '')]
        for name, arg, desc in options:
            lines.append('.TP')
            if arg:
                lines.append('.BI "%s " "%s"' % (roff_text(name), roff_text(arg).replace('"', '')))
            else:
                lines.append('.B %s' % roff_text(name))
            lines.append(roff_text(desc))
    lines.append(END)
    return lines


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ('generate', 'check'):
        sys.exit(__doc__)
    mode, binary, page = sys.argv[1:]
    groups = parse(help_text(binary))
    with open(page, encoding='utf-8') as f:
        text = f.read()
    if mode == 'check':
        names = [n for _, options in groups for n, _, _ in options]
        # The whole name: --mqtt is not --mqtt-username.
        missing = [n for n in names
                   if not re.search(re.escape(roff_text(n)) + r'(?![a-z0-9]|\\-)', text)]
        if missing:
            sys.exit(f'options.py: {page} lacks {len(missing)} of the {len(names)} options of '
                     f'{binary} --help: {" ".join(missing)}\n'
                     f'(run: man/options.py generate {binary} {page})')
        print(f'options.py: {page} names all {len(names)} options of {binary} --help')
        return
    lines = text.split('\n')
    try:
        b, e = lines.index(BEGIN), lines.index(END)
    except ValueError:
        sys.exit(f'options.py: {page} has no option markers')
    lines[b:e + 1] = roff(groups)
    with open(page, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines))


if __name__ == '__main__':
    main()

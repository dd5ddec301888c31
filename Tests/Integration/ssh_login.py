#!/usr/bin/env python3
"""ssh_login.py — log in to a test sshd and answer keyboard-interactive prompts.

    ssh_login.py --port 2222 --user alice --password pw --code 123456 \
                 [--trust y|n] [--key PATH] [--command 'echo LOGGED-IN'] \
                 [--marker LOGGED-IN] [--answer REGEX=VALUE]... \
                 [--client paramiko|openssh]

Prompts are matched on their text (case-insensitive):
  "password"                         -> --password
  "verification code" / "code"       -> --code (repeat --code for re-prompts;
                                        the last one is reused)
  "don't ask for codes" / "[y/N]"    -> --trust (no --trust: empty answer = no)
  --answer REGEX=VALUE               -> checked first, in order given
An unmatched prompt aborts the login. A --code or --answer value
"@cmd:COMMAND" is computed when its prompt comes: the first line COMMAND
(sh -c) prints — e.g. the code a channel plugin has just written to its
spool file: --code '?' --code '@cmd:awk ... /var/spool/twostep/outbox'.

Output, one line each: "PROMPT_ECHO_OFF: <text>" / "PROMPT_ECHO_ON: <text>"
(paramiko; "PROMPT: <text>" with --client openssh), "MESSAGE: <line>" for
PAM info/error text (sshd prepends messages sent before a prompt to the
prompt text, and sends those pending at a failure as an instruction; those
pending at a success are not sent at all for an exec session), "AUTH: ..."
for each step, "OUTPUT: <line>" for the command's output (with openssh the
pre-prompt messages show up here, as "(user@host) text"), and finally
"RESULT: LOGGED-IN" or "RESULT: FAILED (...)".
Exit status 0 when the command ran and printed --marker, 1 otherwise.

--client paramiko (default): paramiko Transport; with --key it does
auth_publickey first (partial success) then auth_interactive.
--client openssh: the real /usr/bin/ssh driven by pexpect (what a person
sees; prompts are matched the same way, echo state is not visible).
"""

import argparse
import os
import re
import socket
import sys


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(os.environ.get("SSHD_PORT", "2222")))
    p.add_argument("--user", required=True)
    p.add_argument("--password")
    p.add_argument("--code", action="append", default=[])
    p.add_argument("--trust", choices=["y", "n", "Y", "N", ""], default=None)
    p.add_argument("--key", help="private key file (publickey first, then keyboard-interactive)")
    p.add_argument("--command", default="echo LOGGED-IN")
    p.add_argument("--marker", default=None, help="text the output must contain (default: last word of an 'echo X' command, else LOGGED-IN)")
    p.add_argument("--answer", action="append", default=[], metavar="REGEX=VALUE")
    p.add_argument("--client", choices=["paramiko", "openssh"], default="paramiko")
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--max-prompts", type=int, default=20)
    a = p.parse_args(argv)
    if a.marker is None:
        m = re.match(r"^\s*echo\s+(\S+)\s*$", a.command)
        a.marker = m.group(1) if m else "LOGGED-IN"
    extra = []
    for item in a.answer:
        if "=" not in item:
            p.error("--answer needs REGEX=VALUE")
        rx, val = item.split("=", 1)
        extra.append((re.compile(rx, re.I), val))
    a.extra = extra
    return a


def say(kind, text):
    print(f"{kind}: {text}", flush=True)


def resolve(value):
    """A value as given, or for "@cmd:COMMAND" the first line it prints."""
    if not value.startswith("@cmd:"):
        return value
    import subprocess
    out = subprocess.run(value[5:], shell=True, capture_output=True, text=True, timeout=30).stdout
    return out.splitlines()[0] if out else ""


class Answerer:
    """Chooses the answer for a prompt from its text."""

    def __init__(self, args):
        self.args = args
        self.codes = list(args.code)
        self.code_index = 0
        self.count = 0

    def answer(self, prompt):
        self.count += 1
        if self.count > self.args.max_prompts:
            raise RuntimeError("too many prompts")
        for rx, val in self.args.extra:
            if rx.search(prompt):
                return resolve(val)
        low = prompt.lower()
        if "don't ask" in low or "[y/n]" in low:
            return self.args.trust if self.args.trust is not None else ""
        if "password" in low:
            if self.args.password is None:
                raise RuntimeError("password asked, none given")
            return self.args.password
        if "code" in low:
            if not self.codes:
                raise RuntimeError("code asked, none given")
            c = self.codes[min(self.code_index, len(self.codes) - 1)]
            self.code_index += 1
            return resolve(c)
        raise RuntimeError(f"no answer for prompt {prompt!r}")


def run_paramiko(args):
    import paramiko

    answerer = Answerer(args)

    def handler(title, instructions, prompt_list):
        if title:
            say("TITLE", title)
        if instructions:
            for line in instructions.splitlines():
                say("MESSAGE", line)
        answers = []
        for text, echo in prompt_list:
            # sshd glues PAM_TEXT_INFO/ERROR_MSG text sent before a prompt
            # onto the prompt ("msg\nVerification code: "): print those
            # lines as MESSAGE and match on the last line only.
            *messages, prompt = text.split("\n")
            for line in messages:
                say("MESSAGE", line)
            say("PROMPT_ECHO_ON" if echo else "PROMPT_ECHO_OFF", prompt)
            answers.append(answerer.answer(prompt))
        return answers

    sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    t = paramiko.Transport(sock)
    t.banner_timeout = args.timeout
    t.auth_timeout = args.timeout
    try:
        # No host-key check: the test server's key is made per run.
        t.start_client(timeout=args.timeout)
        if args.key:
            pkey = load_key(paramiko, args.key)
            remaining = t.auth_publickey(args.user, pkey)
            say("AUTH", f"publickey accepted, remaining: {','.join(remaining) or '-'}")
            if t.is_authenticated():
                say("AUTH", "complete after publickey")
        if not t.is_authenticated():
            remaining = t.auth_interactive(args.user, handler)
            say("AUTH", f"keyboard-interactive done, remaining: {','.join(remaining) or '-'}")
        if not t.is_authenticated():
            return fail("not authenticated")
        say("AUTH", "complete")
        chan = t.open_session(timeout=args.timeout)
        chan.settimeout(args.timeout)
        chan.exec_command(args.command)
        out = b""
        while True:
            data = chan.recv(65536)
            if not data:
                break
            out += data
        status = chan.recv_exit_status()
        for line in out.decode("utf-8", "replace").splitlines():
            say("OUTPUT", line)
        say("EXIT", str(status))
        if args.marker in out.decode("utf-8", "replace"):
            say("RESULT", "LOGGED-IN")
            return 0
        return fail("marker not in output")
    except paramiko.AuthenticationException as e:
        return fail(f"authentication: {e}")
    except (paramiko.SSHException, socket.error, RuntimeError, EOFError) as e:
        return fail(f"{type(e).__name__}: {e}")
    finally:
        t.close()


def load_key(paramiko, path):
    last = None
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key_file(path)
        except Exception as e:  # wrong type: try the next one
            last = e
    raise RuntimeError(f"cannot load key {path}: {last}")


def run_openssh(args):
    import pexpect

    answerer = Answerer(args)
    prefs = "publickey,keyboard-interactive" if args.key else "keyboard-interactive"
    cmd = ["ssh", "-p", str(args.port),
           "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
           "-o", f"PreferredAuthentications={prefs}",
           "-o", "BatchMode=no", "-o", "NumberOfPasswordPrompts=1",
           "-o", f"ConnectTimeout={int(args.timeout)}", "-F", "/dev/null", "-T"]
    if args.key:
        cmd += ["-i", args.key, "-o", "IdentitiesOnly=yes"]
    else:
        cmd += ["-o", "IdentitiesOnly=yes", "-o", "IdentityFile=/dev/null"]
    cmd += [f"{args.user}@{args.host}", args.command]
    child = pexpect.spawn(cmd[0], cmd[1:], encoding="utf-8", timeout=args.timeout)
    # A prompt is text at the end of a line that ends in ": " or "] " with
    # nothing after it; ssh prints prompts without a newline.
    prompt_rx = r"[^\r\n]*(?::|\]|\?) ?$"
    output = []
    try:
        while True:
            i = child.expect([prompt_rx, r"[^\r\n]*\r?\n", pexpect.EOF])
            if i == 2:
                break
            text = child.after.rstrip("\r\n")
            if i == 1:
                output.append(text)
                say("OUTPUT", text)
                continue
            say("PROMPT", text)
            child.sendline(answerer.answer(text))
    except (pexpect.TIMEOUT, RuntimeError) as e:
        child.close(force=True)
        return fail(f"{type(e).__name__}: {e}")
    child.close()
    say("EXIT", str(child.exitstatus))
    if any(args.marker in line for line in output) and child.exitstatus == 0:
        say("RESULT", "LOGGED-IN")
        return 0
    return fail("marker not in output")


def fail(why):
    say("RESULT", f"FAILED ({why})")
    return 1


def main(argv):
    args = parse_args(argv)
    if args.client == "openssh":
        return run_openssh(args)
    return run_paramiko(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

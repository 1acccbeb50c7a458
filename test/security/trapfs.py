#!/usr/bin/env python3
"""trapfs.py MOUNTPOINT LOG: a FUSE file system (the raw kernel protocol, no library) whose root is one regular
file, mounted over a regular file as a user with `user_allow_other` could (test/security/fuse-trap.test.ts; run
as root). An open from a process's main thread is answered; an open from any other thread is *held*, never
answered, until this process gets SIGUSR1 (then every held open is answered), as a hostile daemon would hold it
for ever. Each open is logged: "open tid=<tid> main|other answered|held". Ready once "ready" is logged."""
import os, signal, struct, sys, time, ctypes

mnt, log_path = sys.argv[1], sys.argv[2]
fd = os.open('/dev/fuse', os.O_RDWR)
libc = ctypes.CDLL(None, use_errno=True)
opts = f"fd={fd},rootmode=100644,user_id=0,group_id=0,allow_other".encode()
if libc.mount(b"trapfs", mnt.encode(), b"fuse", 0, opts) != 0:
    sys.exit("mount: " + os.strerror(ctypes.get_errno()))
DATA = b"trap file contents\n"
log = open(log_path, 'a', buffering=1)
held = []


def reply(unique, err=0, body=b''):
    os.write(fd, struct.pack('<IiQ', 16 + len(body), -err, unique) + body)


def attr():
    now = 1_600_000_000  # fixed: a file whose time moves would be a source changing under its copy
    return struct.pack('<QQQQQQIIIIIIIIII', 1, len(DATA), 1, now, now, now, 0, 0, 0, 0o100644, 1, 0, 0, 0, 4096, 0)


def is_main(tid):
    try:
        with open(f'/proc/{tid}/status') as f:
            for line in f:
                if line.startswith('Tgid:'):
                    return int(line.split()[1]) == tid
    except OSError:
        pass
    return False


def release(*_):
    while held:
        reply(held.pop(), 0, struct.pack('<QII', 1, 0, 0))
        log.write("released\n")


signal.signal(signal.SIGUSR1, release)
log.write("ready\n")
while True:
    try:
        buf = os.read(fd, 1 << 20)
    except OSError as e:
        if e.errno == 19:  # ENODEV: unmounted
            break
        raise
    ln, op, unique, node, uid, gid, pid = struct.unpack_from('<IIQQIII', buf)
    if op == 26:  # INIT
        major, minor, ra, flags = struct.unpack_from('<IIII', buf, 40)
        reply(unique, 0, struct.pack('<IIIIHHIIHHI7I', 7, 31, ra, 0, 16, 12, 1 << 17, 1, 32, 0, 0, *([0] * 7)))
    elif op == 3:  # GETATTR
        reply(unique, 0, struct.pack('<QII', 1, 0, 0) + attr())
    elif op == 14:  # OPEN
        main = is_main(pid)
        log.write(f"open tid={pid} {'main' if main else 'other'} {'answered' if main else 'held'}\n")
        if main:
            reply(unique, 0, struct.pack('<QII', 1, 0, 0))
        else:
            held.append(unique)
    elif op == 15:  # READ
        fh, off, size = struct.unpack_from('<QQI', buf, 40)
        reply(unique, 0, DATA[off:off + size])
    elif op in (18, 25):  # RELEASE, FLUSH
        reply(unique)
    elif op == 36:  # INTERRUPT: no answer (the open stays held)
        pass
    elif op == 38:  # DESTROY
        reply(unique)
        break
    else:
        reply(unique, 38)  # ENOSYS

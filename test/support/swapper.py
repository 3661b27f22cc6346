#!/usr/bin/python3
# Swaps pairs of names with renameat2(RENAME_EXCHANGE) as fast as it can, for
# the tests of diff against a tree that a container keeps changing: each
# name NAME in DIR is exchanged with DIR/.swap/NAME (a symlink to a host file,
# or a FIFO) and back, until the file STOP exists.
#   swapper.py DIR STOP
import ctypes
import os
import sys

AT_FDCWD = -100
RENAME_EXCHANGE = 2
libc = ctypes.CDLL(None, use_errno=True)
renameat2 = libc.renameat2
renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]

directory, stop = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(os.path.join(directory, ".swap")))
pairs = [(os.path.join(directory, n).encode(), os.path.join(directory, ".swap", n).encode()) for n in names]
while not os.path.exists(stop):
    for a, b in pairs:
        renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
        renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
        renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)

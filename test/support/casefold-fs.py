#!/usr/bin/python3
# A case-insensitive passthrough filesystem (like ext4/tmpfs casefold, CIFS or
# a folding FUSE), for the containment tests: every name is looked up in the
# backing directory ignoring case, so `cid` and `CID` are one entry.
# Usage: casefold-fs.py BACKING MOUNTPOINT   (foreground; unmount to stop)
# Needs Debian's python3-fusepy and fuse; run as root.
import errno
import os
import sys

from fusepy import FUSE, FuseOSError, Operations


class CaseFold(Operations):
    def __init__(self, backing):
        self.backing = os.path.realpath(backing)

    def _real(self, path):
        """The backing path, each component matched without regard to case."""
        real = self.backing
        for part in [p for p in path.split("/") if p]:
            candidate = os.path.join(real, part)
            if not os.path.lexists(candidate) and os.path.isdir(real) and not os.path.islink(real):
                folded = part.casefold()
                for name in os.listdir(real):
                    if name.casefold() == folded:
                        candidate = os.path.join(real, name)
                        break
            real = candidate
        return real

    def _errno(self, fn, *args):
        try:
            return fn(*args)
        except OSError as error:
            raise FuseOSError(error.errno or errno.EIO)

    def getattr(self, path, fh=None):
        st = self._errno(os.lstat, self._real(path))
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime", "st_mtime", "st_ctime", "st_ino", "st_rdev")
        attrs = {k: getattr(st, k) for k in keys}
        for k in ("st_atime", "st_mtime", "st_ctime"):
            attrs[k] = getattr(st, k.replace("time", "time_ns")) / 1e9
        return attrs

    def readdir(self, path, fh):
        return [".", ".."] + self._errno(os.listdir, self._real(path))

    def readlink(self, path):
        return self._errno(os.readlink, self._real(path))

    def mkdir(self, path, mode):
        return self._errno(os.mkdir, self._real(path), mode)

    def rmdir(self, path):
        return self._errno(os.rmdir, self._real(path))

    def unlink(self, path):
        return self._errno(os.unlink, self._real(path))

    def symlink(self, target, source):
        return self._errno(os.symlink, source, self._real(target))

    def link(self, target, source):
        return self._errno(os.link, self._real(source), self._real(target))

    def rename(self, old, new):
        return self._errno(os.rename, self._real(old), self._real(new))

    def mknod(self, path, mode, dev):
        return self._errno(os.mknod, self._real(path), mode, dev)

    def chmod(self, path, mode):
        real = self._real(path)
        return 0 if os.path.islink(real) else self._errno(os.chmod, real, mode & 0o7777)

    def chown(self, path, uid, gid):
        return self._errno(os.lchown, self._real(path), uid, gid)

    def utimens(self, path, times=None):
        return self._errno(lambda: os.utime(self._real(path), ns=None if times is None else tuple(int(t * 1e9) for t in times), follow_symlinks=False))

    def truncate(self, path, length, fh=None):
        return self._errno(os.truncate, self._real(path), length)

    def create(self, path, mode, fi=None):
        return self._errno(os.open, self._real(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)

    def open(self, path, flags):
        return self._errno(os.open, self._real(path), flags)

    def read(self, path, size, offset, fh):
        return self._errno(os.pread, fh, size, offset)

    def write(self, path, data, offset, fh):
        return self._errno(os.pwrite, fh, data, offset)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        return self._errno(os.close, fh)

    def fsync(self, path, datasync, fh):
        return 0

    def statfs(self, path):
        st = os.statvfs(self.backing)
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")
        return {k: getattr(st, k) for k in keys}

    def setxattr(self, path, name, value, options, position=0):
        return self._errno(os.setxattr, self._real(path), name, value, options, follow_symlinks=False)

    def getxattr(self, path, name, position=0):
        return self._errno(os.getxattr, self._real(path), name, follow_symlinks=False)

    def listxattr(self, path):
        return self._errno(os.listxattr, self._real(path), follow_symlinks=False)

    def removexattr(self, path, name):
        return self._errno(os.removexattr, self._real(path), name, follow_symlinks=False)


if __name__ == "__main__":
    # No kernel caching of names or attributes: every lookup reaches the folding code.
    FUSE(CaseFold(sys.argv[1]), sys.argv[2], foreground=True, nothreads=True,
         entry_timeout=0, attr_timeout=0, negative_timeout=0)

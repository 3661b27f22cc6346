/*
 * The few syscalls Node's fs lacks for rootfs work: xattrs that never follow
 * symlinks (or read through an open descriptor), mknod, and flock (the
 * layer store's lock). Paths are Buffers so that non-UTF-8 names work.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/file.h>
#include <sys/types.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <node_api.h>

#define NAME_MAX_LEN 256

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  const char *code = "EIO";
  switch (err) {
    case EPERM: code = "EPERM"; break;
    case ENOENT: code = "ENOENT"; break;
    case EACCES: code = "EACCES"; break;
    case EEXIST: code = "EEXIST"; break;
    case ENOSPC: code = "ENOSPC"; break;
    case ENOTSUP: code = "ENOTSUP"; break;
    case ENODATA: code = "ENODATA"; break;
    case ERANGE: code = "ERANGE"; break;
    case E2BIG: code = "E2BIG"; break;
    case EINVAL: code = "EINVAL"; break;
    case ENAMETOOLONG: code = "ENAMETOOLONG"; break;
    case ENOTDIR: code = "ENOTDIR"; break;
    case EROFS: code = "EROFS"; break;
    case EDQUOT: code = "EDQUOT"; break;
    case ELOOP: code = "ELOOP"; break;
    case ENOMEM: code = "ENOMEM"; break;
    case EBADF: code = "EBADF"; break;
  }
  napi_throw_error(env, code, msg);
  return NULL;
}

/* Copies a Buffer argument into a NUL-terminated heap string (caller frees). */
static char *path_arg(napi_env env, napi_value value) {
  void *data;
  size_t length;
  bool is_buffer = false;
  napi_is_buffer(env, value, &is_buffer);
  if (!is_buffer) {
    napi_throw_type_error(env, NULL, "path must be a Buffer");
    return NULL;
  }
  napi_get_buffer_info(env, value, &data, &length);
  if (memchr(data, 0, length) != NULL) {
    napi_throw_type_error(env, NULL, "path contains a NUL byte");
    return NULL;
  }
  char *out = malloc(length + 1);
  memcpy(out, data, length);
  out[length] = 0;
  return out;
}

static bool name_arg(napi_env env, napi_value value, char *out) {
  size_t length;
  if (napi_get_value_string_utf8(env, value, out, NAME_MAX_LEN, &length) != napi_ok || length >= NAME_MAX_LEN - 1) {
    napi_throw_type_error(env, NULL, "xattr name must be a string shorter than 255 bytes");
    return false;
  }
  return true;
}

static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[NAME_MAX_LEN];
  if (!name_arg(env, argv[1], name)) return NULL;
  void *value;
  size_t length;
  napi_get_buffer_info(env, argv[2], &value, &length);
  char *path = path_arg(env, argv[0]);
  if (path == NULL) return NULL;
  int rc = lsetxattr(path, name, length == 0 ? "" : value, length, 0);
  int err = errno;
  free(path);
  if (rc != 0) return throw_errno(env, "lsetxattr", err);
  return NULL;
}

static napi_value js_lremovexattr(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[NAME_MAX_LEN];
  if (!name_arg(env, argv[1], name)) return NULL;
  char *path = path_arg(env, argv[0]);
  if (path == NULL) return NULL;
  int rc = lremovexattr(path, name);
  int err = errno;
  free(path);
  if (rc != 0) return throw_errno(env, "lremovexattr", err);
  return NULL;
}

/* Where xattrs are read: a path (never followed) or an open descriptor (the inode opened, no name looked up again). */
struct xattr_source {
  const char *path;
  int fd;
};

/* One list (name NULL) or get call on `source`, into `buffer` of `size` bytes (0: ask for the size). */
static ssize_t xattr_call(struct xattr_source source, const char *name, char *buffer, size_t size) {
  if (source.path != NULL) return name == NULL ? llistxattr(source.path, buffer, size) : lgetxattr(source.path, name, buffer, size);
  return name == NULL ? flistxattr(source.fd, buffer, size) : fgetxattr(source.fd, name, buffer, size);
}

/*
 * Reads a variable-size xattr list (name NULL) or value: asks for the size,
 * then reads, again if it grew in between. Returns the length with the bytes
 * in *out (caller frees; NULL when empty), or -1 with errno set.
 */
static ssize_t read_sized(struct xattr_source source, const char *name, char **out) {
  *out = NULL;
  for (int tries = 0; tries < 8; tries++) {
    ssize_t size = xattr_call(source, name, NULL, 0);
    if (size <= 0) return size;
    char *grown = realloc(*out, size);
    if (grown == NULL) {
      errno = ENOMEM;
      return -1;
    }
    *out = grown;
    ssize_t got = xattr_call(source, name, *out, size);
    if (got >= 0) return got;
    if (errno != ERANGE) return -1;
  }
  errno = ERANGE;
  return -1;
}

/* The names of `source`'s xattrs, as an array of strings. */
static napi_value list_result(napi_env env, struct xattr_source source, const char *what) {
  char *list;
  ssize_t size = read_sized(source, NULL, &list);
  int err = errno;
  if (size < 0) { free(list); return throw_errno(env, what, err); }
  napi_value array;
  napi_create_array(env, &array);
  uint32_t index = 0;
  for (ssize_t pos = 0; pos < size;) {
    size_t length = strlen(list + pos);
    napi_value name;
    napi_create_string_utf8(env, list + pos, length, &name);
    napi_set_element(env, array, index++, name);
    pos += length + 1;
  }
  free(list);
  return array;
}

/* The value of `source`'s xattr `name`, as a Buffer. */
static napi_value value_result(napi_env env, struct xattr_source source, const char *name, const char *what) {
  char *value;
  ssize_t size = read_sized(source, name, &value);
  int err = errno;
  if (size < 0) { free(value); return throw_errno(env, what, err); }
  napi_value result;
  void *copy;
  napi_create_buffer_copy(env, size, size == 0 ? "" : value, &copy, &result);
  free(value);
  return result;
}

/* A descriptor argument. */
static bool fd_arg(napi_env env, napi_value value, int32_t *fd) {
  if (napi_get_value_int32(env, value, fd) == napi_ok) return true;
  napi_throw_type_error(env, NULL, "expected a file descriptor");
  return false;
}

static napi_value js_flistxattr(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (!fd_arg(env, argv[0], &fd)) return NULL;
  return list_result(env, (struct xattr_source){NULL, fd}, "flistxattr");
}

static napi_value js_fgetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  char name[NAME_MAX_LEN];
  if (!fd_arg(env, argv[0], &fd) || !name_arg(env, argv[1], name)) return NULL;
  return value_result(env, (struct xattr_source){NULL, fd}, name, "fgetxattr");
}

static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *path = path_arg(env, argv[0]);
  if (path == NULL) return NULL;
  napi_value result = list_result(env, (struct xattr_source){path, -1}, "llistxattr");
  free(path);
  return result;
}

static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[NAME_MAX_LEN];
  if (!name_arg(env, argv[1], name)) return NULL;
  char *path = path_arg(env, argv[0]);
  if (path == NULL) return NULL;
  napi_value result = value_result(env, (struct xattr_source){path, -1}, name, "lgetxattr");
  free(path);
  return result;
}

static napi_value js_mknod(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t mode, major, minor;
  napi_get_value_uint32(env, argv[1], &mode);
  napi_get_value_uint32(env, argv[2], &major);
  napi_get_value_uint32(env, argv[3], &minor);
  char *path = path_arg(env, argv[0]);
  if (path == NULL) return NULL;
  // The system call, not glibc's mknod: that symbol is versioned 2.33, and the
  // prebuilt binary must load on older glibc too.
  int rc = (int)syscall(SYS_mknodat, AT_FDCWD, path, (mode_t)mode, makedev(major, minor));
  int err = errno;
  free(path);
  if (rc != 0) return throw_errno(env, "mknod", err);
  return NULL;
}

/*
 * flock(fd, LOCK_SH or LOCK_EX or LOCK_UN, never blocking): true when taken,
 * false when another holder has it (the caller waits in JavaScript, where a
 * signal can still end the wait).
 */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, op;
  if (!fd_arg(env, argv[0], &fd)) return NULL;
  if (napi_get_value_int32(env, argv[1], &op) != napi_ok) {
    napi_throw_type_error(env, NULL, "flock takes a descriptor and an operation");
    return NULL;
  }
  if (op != LOCK_SH && op != LOCK_EX && op != LOCK_UN) {
    napi_throw_type_error(env, NULL, "flock operation must be LOCK_SH, LOCK_EX or LOCK_UN");
    return NULL;
  }
  int rc;
  do rc = flock(fd, op | LOCK_NB); while (rc != 0 && errno == EINTR);
  napi_value result;
  if (rc == 0) {
    napi_get_boolean(env, true, &result);
    return result;
  }
  if (errno == EWOULDBLOCK) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  return throw_errno(env, "flock", errno);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"lremovexattr", NULL, js_lremovexattr, NULL, NULL, NULL, napi_default, NULL},
    {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_default, NULL},
    {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_default, NULL},
    {"flock", NULL, js_flock, NULL, NULL, NULL, napi_default, NULL},
    {"flistxattr", NULL, js_flistxattr, NULL, NULL, NULL, napi_default, NULL},
    {"fgetxattr", NULL, js_fgetxattr, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

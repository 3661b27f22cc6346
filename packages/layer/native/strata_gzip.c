// gzip decompression with ISA-L (Intel's igzip), streaming into a caller's
// buffer. Measured here ~2x the speed of the zlib inside Node on layer blobs
// (Debian minbase 0.18 s vs 0.41 s; a 357 MB tar 0.45 s vs 0.80 s).
// Behaves like Node's gunzip on what follows a gzip member: another member
// is decompressed, zero bytes end the data (the rest is ignored), anything
// else is an error.
#include <isa-l/igzip_lib.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, "STRATA_NATIVE", "N-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static void free_state(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static napi_value create(napi_env env, napi_callback_info info) {
  (void)info;
  struct inflate_state *state = malloc(sizeof *state);
  if (state == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory for a gzip inflater");
    return NULL;
  }
  isal_inflate_init(state);
  state->crc_flag = ISAL_GZIP;
  napi_value external;
  CHECK(napi_create_external(env, state, free_state, NULL, &external));
  return external;
}

static const char *describe(int status, const char **code) {
  switch (status) {
    case ISAL_INVALID_BLOCK: *code = "ISAL_INVALID_BLOCK"; return "invalid deflate block";
    case ISAL_INVALID_SYMBOL: *code = "ISAL_INVALID_SYMBOL"; return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK: *code = "ISAL_INVALID_LOOKBACK"; return "invalid distance too far back";
    case ISAL_INVALID_WRAPPER: *code = "ISAL_INVALID_WRAPPER"; return "incorrect header check";
    case ISAL_UNSUPPORTED_METHOD: *code = "ISAL_UNSUPPORTED_METHOD"; return "unknown compression method";
    case ISAL_INCORRECT_CHECKSUM: *code = "ISAL_INCORRECT_CHECKSUM"; return "incorrect data check";
    case ISAL_NEED_DICT: *code = "ISAL_NEED_DICT"; return "stream needs a dictionary";
    default: *code = "ISAL_ERROR"; return "gzip decompression failed";
  }
}

static int typed_array(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  napi_typedarray_type type;
  void *base;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, length, &base, &buffer, &offset) != napi_ok) return 0;
  if (type != napi_uint8_array) return 0;
  *data = base;
  return 1;
}

// inflate(state, input, inOffset, inLength, output, outOffset, outLength, result: Uint32Array(3))
// result: [bytes consumed, bytes produced, 1 when zero padding ended the data].
static napi_value inflate(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 8) {
    napi_throw_type_error(env, NULL, "inflate takes 8 arguments");
    return NULL;
  }
  struct inflate_state *state;
  CHECK(napi_get_value_external(env, argv[0], (void **)&state));
  uint8_t *in, *out;
  size_t in_size, out_size;
  uint32_t in_offset, in_length, out_offset, out_length;
  if (!typed_array(env, argv[1], &in, &in_size) || !typed_array(env, argv[4], &out, &out_size)) {
    napi_throw_type_error(env, NULL, "input and output must be Uint8Arrays");
    return NULL;
  }
  CHECK(napi_get_value_uint32(env, argv[2], &in_offset));
  CHECK(napi_get_value_uint32(env, argv[3], &in_length));
  CHECK(napi_get_value_uint32(env, argv[5], &out_offset));
  CHECK(napi_get_value_uint32(env, argv[6], &out_length));
  napi_typedarray_type result_type;
  size_t result_length;
  void *result_data;
  napi_value ignored;
  size_t ignored_offset;
  CHECK(napi_get_typedarray_info(env, argv[7], &result_type, &result_length, &result_data, &ignored, &ignored_offset));
  if (result_type != napi_uint32_array || result_length < 3 || (size_t)in_offset + in_length > in_size ||
      (size_t)out_offset + out_length > out_size) {
    napi_throw_range_error(env, NULL, "inflate: bad offsets or result array");
    return NULL;
  }
  uint32_t *result = result_data;
  state->next_in = in + in_offset;
  state->avail_in = in_length;
  state->next_out = out + out_offset;
  state->avail_out = out_length;
  uint32_t padded = 0;
  for (;;) {
    if (state->block_state == ISAL_BLOCK_FINISH) {
      if (state->avail_in == 0) break;
      if (*state->next_in == 0) {
        padded = 1;
        break;
      }
      // Another member must follow. ISA-L would wait for a whole header before
      // judging it; zlib refuses a bad magic number at once, and so do we.
      if (state->next_in[0] != 0x1f || (state->avail_in > 1 && state->next_in[1] != 0x8b)) {
        napi_throw_error(env, "ISAL_INVALID_WRAPPER", "incorrect header check");
        return NULL;
      }
      // Start it with the bytes already in hand.
      uint8_t *next_in = state->next_in, *next_out = state->next_out;
      uint32_t avail_in = state->avail_in, avail_out = state->avail_out;
      isal_inflate_reset(state);
      state->crc_flag = ISAL_GZIP;
      state->next_in = next_in;
      state->avail_in = avail_in;
      state->next_out = next_out;
      state->avail_out = avail_out;
    }
    uint32_t before_in = state->avail_in, before_out = state->avail_out;
    int status = isal_inflate(state);
    if (status != ISAL_DECOMP_OK) {
      const char *code;
      const char *message = describe(status, &code);
      napi_throw_error(env, code, message);
      return NULL;
    }
    if (state->block_state == ISAL_BLOCK_FINISH) continue;
    if (state->avail_in == 0 || state->avail_out == 0) break;
    if (state->avail_in == before_in && state->avail_out == before_out) break; // no progress: wait for more input

  }
  result[0] = in_length - state->avail_in;
  result[1] = out_length - state->avail_out;
  result[2] = padded;
  return NULL;
}

// finished(state): true when the data so far ends exactly at the end of a member.
static napi_value finished(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct inflate_state *state;
  CHECK(napi_get_value_external(env, argv[0], (void **)&state));
  napi_value value;
  CHECK(napi_get_boolean(env, state->block_state == ISAL_BLOCK_FINISH, &value));
  return value;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
      {"inflate", NULL, inflate, NULL, NULL, NULL, napi_default, NULL},
      {"finished", NULL, finished, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

# jwt-verify: pure verification code (unit-tested, fuzzed) apart from the HTTP glue.
JWT_VERIFY_PURE_SRCS := services/jwt-verify/jwt.c services/jwt-verify/keys.c \
	services/jwt-verify/replay.c services/jwt-verify/json_strict.c services/jwt-verify/subproto.c
JWT_VERIFY_SRCS := $(JWT_VERIFY_PURE_SRCS) services/jwt-verify/http.c \
	services/jwt-verify/verify_metrics.c services/jwt-verify/logbatch.c \
	services/jwt-verify/main.c $(COMMON_SRCS)

SERVICES += jwt-verify
UNIT_TESTS += tests/test_jwt
$(eval $(call c_program,jwt-verify,$(JWT_VERIFY_SRCS)))
$(eval $(call c_program,tests/test_jwt,tests/unit/test_jwt.c $(JWT_VERIFY_PURE_SRCS) $(COMMON_SRCS)))
$(eval $(call fuzz_program,fuzz_verify_parsers,tests/fuzz/fuzz_verify_parsers.c services/jwt-verify/json_strict.c services/jwt-verify/subproto.c))
$(eval $(call fuzz_program,fuzz_jwt,tests/fuzz/fuzz_jwt.c $(JWT_VERIFY_PURE_SRCS) $(COMMON_SRCS)))

# The raw libsodium Ed25519 and pure jwt_verify() rates bench/jwt-verify.bench.sh
# compares with.
$(BUILD)/bench/jwt-verify-raw: bench/jwt-verify.bench.c $(JWT_VERIFY_PURE_SRCS)
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS)

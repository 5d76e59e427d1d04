# ptyd: the pure ttyd protocol code (unit-tested) apart from the PTY and WebSocket glue.
PTYD_PURE_SRCS := services/ptyd/proto.c
PTYD_SRCS := $(PTYD_PURE_SRCS) services/ptyd/spawn.c \
	services/ptyd/account.c services/ptyd/contain.c services/ptyd/session.c \
	services/ptyd/ws.c services/ptyd/main.c $(COMMON_SRCS)
# The recorder (its writer thread is the one thread besides the loop).
PTYD_SRCS += services/ptyd/record.c

SERVICES += ptyd
UNIT_TESTS += tests/test_proto
$(eval $(call c_program,ptyd,$(PTYD_SRCS)))
$(eval $(call c_program,tests/test_proto,tests/unit/test_proto.c $(PTYD_PURE_SRCS) $(COMMON_SRCS)))
UNIT_TESTS += tests/test_record
$(eval $(call c_program,tests/test_record,tests/unit/test_record.c services/ptyd/record.c $(COMMON_SRCS)))

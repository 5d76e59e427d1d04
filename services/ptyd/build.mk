# ptyd: the pure protocol code (unit-tested, fuzzed) apart from the PTY, exec and WebSocket glue.
PTYD_PURE_SRCS := services/ptyd/proto.c services/ptyd/replay.c services/ptyd/accounts.c \
	services/ptyd/execproto.c
PTYD_SRCS := $(PTYD_PURE_SRCS) services/ptyd/spawn.c \
	services/ptyd/account.c services/ptyd/child.c services/ptyd/contain.c services/ptyd/ptyio.c \
	services/ptyd/ptyread.c services/ptyd/fdwatch.c \
	services/ptyd/session.c services/ptyd/tty.c services/ptyd/admin.c services/ptyd/logsink.c \
	services/ptyd/exec.c services/ptyd/execws.c services/ptyd/wsguard.c \
	services/ptyd/ws.c services/ptyd/main.c $(COMMON_SRCS)
# The recorder (its writer thread is the one thread besides the loop).
PTYD_SRCS += services/ptyd/record.c services/ptyd/ptyd_metrics.c

SERVICES += ptyd
UNIT_TESTS += tests/test_proto tests/test_replay tests/test_accounts tests/test_execproto
$(eval $(call c_program,ptyd,$(PTYD_SRCS)))
$(eval $(call c_program,tests/test_proto,tests/unit/test_proto.c $(PTYD_PURE_SRCS) $(COMMON_SRCS)))
$(eval $(call c_program,tests/test_replay,tests/unit/test_replay.c services/ptyd/replay.c))
$(eval $(call fuzz_program,fuzz_ptyd_json,tests/fuzz/fuzz_ptyd_json.c $(PTYD_PURE_SRCS)))
$(eval $(call fuzz_program,fuzz_ptyd_stream,tests/fuzz/fuzz_ptyd_stream.c $(PTYD_PURE_SRCS)))
UNIT_TESTS += tests/test_record
$(eval $(call c_program,tests/test_record,tests/unit/test_record.c services/ptyd/record.c $(COMMON_SRCS)))
$(eval $(call c_program,tests/test_accounts,tests/unit/test_accounts.c $(PTYD_PURE_SRCS) $(COMMON_SRCS)))
$(eval $(call fuzz_program,fuzz_accounts,tests/fuzz/fuzz_accounts.c $(PTYD_PURE_SRCS) $(COMMON_SRCS)))
# spawn.c and contain.c with real children (as root: account switch, cgroups).
PTYD_SPAWN_SRCS := services/ptyd/spawn.c services/ptyd/account.c services/ptyd/contain.c \
	services/ptyd/accounts.c services/ptyd/proto.c
UNIT_TESTS += tests/test_spawn
$(eval $(call c_program,tests/test_spawn,tests/unit/test_spawn.c $(PTYD_SPAWN_SRCS) $(COMMON_SRCS)))
$(eval $(call c_program,tests/test_execproto,tests/unit/test_execproto.c $(PTYD_PURE_SRCS) $(COMMON_SRCS)))
$(eval $(call fuzz_program,fuzz_execproto,tests/fuzz/fuzz_execproto.c $(PTYD_PURE_SRCS) $(COMMON_SRCS)))

# services/common: the code both services share; unit tests of its pure parts
# (the metrics registry and exposition; the rest of common) and their fuzzer.
UNIT_TESTS += tests/test_metrics tests/test_common
$(eval $(call c_program,tests/test_metrics,tests/unit/test_metrics.c $(COMMON_SRCS)))
$(eval $(call c_program,tests/test_common,tests/unit/test_common.c $(COMMON_SRCS)))
$(eval $(call fuzz_program,fuzz_common,tests/fuzz/fuzz_common.c $(COMMON_SRCS)))

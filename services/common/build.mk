# services/common: the unit test of the pure metrics registry and exposition.
UNIT_TESTS += tests/test_metrics
$(eval $(call c_program,tests/test_metrics,tests/unit/test_metrics.c $(COMMON_SRCS)))

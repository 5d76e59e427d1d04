# examples/web-shell: xterm.js and its fit addon copied from node_modules (pinned by
# package-lock.json, never committed), and web-shell.js rebuilt as one classic script for
# pages opened from file:// (browsers refuse ES module imports there).
WEB_DIR := examples/web-shell
WEB_VENDOR := $(WEB_DIR)/vendor
WEB_MODULES := $(filter-out $(WEB_DIR)/app.js,$(wildcard $(WEB_DIR)/*.js))
# npm gives package files a fixed old mtime; its own lock copy is fresh after every install.
NPM_STAMP := node_modules/.package-lock.json

$(NPM_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

$(WEB_VENDOR)/xterm.js: $(NPM_STAMP)
	@mkdir -p $(@D)
	cp node_modules/@xterm/xterm/lib/xterm.js $@
$(WEB_VENDOR)/xterm.css: $(NPM_STAMP)
	@mkdir -p $(@D)
	cp node_modules/@xterm/xterm/css/xterm.css $@
$(WEB_VENDOR)/addon-fit.js: $(NPM_STAMP)
	@mkdir -p $(@D)
	cp node_modules/@xterm/addon-fit/lib/addon-fit.js $@
$(WEB_VENDOR)/LICENSE.xterm: $(NPM_STAMP)
	@mkdir -p $(@D)
	cp node_modules/@xterm/xterm/LICENSE $@
$(WEB_VENDOR)/web-shell.classic.js: $(WEB_MODULES) $(WEB_DIR)/bundle-classic.mjs
	@mkdir -p $(@D)
	node $(WEB_DIR)/bundle-classic.mjs $(WEB_DIR)/web-shell.js $@

WEB_TARGETS += $(WEB_VENDOR)/xterm.js $(WEB_VENDOR)/xterm.css $(WEB_VENDOR)/addon-fit.js \
	$(WEB_VENDOR)/LICENSE.xterm $(WEB_VENDOR)/web-shell.classic.js

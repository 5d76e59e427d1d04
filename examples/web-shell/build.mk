# examples/web-shell: xterm.js and its addons copied from node_modules (pinned by
# package-lock.json, never committed), and web-shell.js rebuilt as one classic script for
# pages opened from file:// (browsers refuse ES module imports there).
WEB_DIR := examples/web-shell
WEB_VENDOR := $(WEB_DIR)/vendor
# The module's files: everything but the page's own scripts (app.js, page-*.js).
WEB_MODULES := $(filter-out $(WEB_DIR)/app.js $(WEB_DIR)/page-%.js,$(wildcard $(WEB_DIR)/*.js))
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
# The maintained addons the page loads: wide characters (Unicode 11), links, search, OSC 52
# clipboard writes (reads are swallowed by web-shell.js).
WEB_ADDONS := unicode11 web-links search clipboard
$(foreach a,$(WEB_ADDONS),$(eval $$(WEB_VENDOR)/addon-$(a).js: $$(NPM_STAMP) ; @mkdir -p $$(@D) && cp node_modules/@xterm/addon-$(a)/lib/addon-$(a).js $$@))
$(WEB_VENDOR)/LICENSE.xterm: $(NPM_STAMP)
	@mkdir -p $(@D)
	cp node_modules/@xterm/xterm/LICENSE $@
$(WEB_VENDOR)/web-shell.classic.js: $(WEB_MODULES) $(WEB_DIR)/bundle-classic.mjs
	@mkdir -p $(@D)
	node $(WEB_DIR)/bundle-classic.mjs $(WEB_DIR)/web-shell.js $@

WEB_TARGETS += $(WEB_VENDOR)/xterm.js $(WEB_VENDOR)/xterm.css $(WEB_VENDOR)/addon-fit.js \
	$(WEB_ADDONS:%=$(WEB_VENDOR)/addon-%.js) \
	$(WEB_VENDOR)/LICENSE.xterm $(WEB_VENDOR)/web-shell.classic.js
# The replay page's player (replay.html), with its licence.
$(foreach f,asciinema-player.min.js asciinema-player.css,$(eval $$(WEB_VENDOR)/$(f): $$(NPM_STAMP) ; @mkdir -p $$(@D) && cp node_modules/asciinema-player/dist/bundle/$(f) $$@))
$(WEB_VENDOR)/LICENSE.asciinema-player: $(NPM_STAMP) ; @mkdir -p $(@D) && cp node_modules/asciinema-player/LICENSE $@
WEB_TARGETS += $(WEB_VENDOR)/asciinema-player.min.js $(WEB_VENDOR)/asciinema-player.css $(WEB_VENDOR)/LICENSE.asciinema-player

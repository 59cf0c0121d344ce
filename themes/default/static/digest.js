// Small reader conveniences; the site works without this file.
(function () {
  "use strict";
})();

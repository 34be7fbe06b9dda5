// Modules a page needs only on a user's action, loaded on first use rather than with the page:
//   const settings = lazy(() => import(path));   once, beside the page's other constants
//   settings(({ SettingsDialog }) => ...);       on each use
// The module is asked for once (its promise is kept). A failed load shows the page's error
// banner, and the next use asks again.

import { hideBanner, showBanner } from "./banners.js";

const BANNER = "module";

// use(module) runs once the module is there; the result resolves to what it returns, or to
// undefined when the module could not be loaded.
export function lazy(load) {
  let loading = null;
  let failed = false;
  const get = () => {
    loading ||= load().then(
      (module) => {
        if (failed) hideBanner(BANNER);
        return module;
      },
      () => {
        loading = null;
        failed = true;
        showBanner(BANNER, "Part of the page could not be loaded. Check your connection, then reload the page.");
        return null;
      },
    );
    return loading;
  };
  return (use = (module) => module) => get().then((module) => (module ? use(module) : undefined));
}

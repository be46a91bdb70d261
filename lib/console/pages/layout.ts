import { type Html, html } from '../html';
import { consoleUrl } from '../routes';

/** The sections the console's navigation leads to. */
export type Section = 'overview' | 'orders' | 'dead-letters' | 'sagas';

/** One page's own part: the layout adds the document around it. */
export interface ConsolePage {
  /** The `<title>`'s first part, usually the page's `<h1>`. */
  readonly title: string;
  /** The navigation entry marked as current; none for error pages. */
  readonly section: Section | undefined;
  readonly main: Html;
}

const NAVIGATION: readonly { readonly section: Section; readonly label: string; readonly href: string }[] = [
  { section: 'overview', label: 'Overview', href: consoleUrl.overview() },
  { section: 'orders', label: 'Orders', href: consoleUrl.orders() },
  { section: 'dead-letters', label: 'Dead letters', href: consoleUrl.deadLetters() },
  { section: 'sagas', label: 'Sagas', href: consoleUrl.sagas() },
];

/**
 * The whole document: language, title, the one stylesheet and script, a skip link to `<main>` (focusable, so
 * the skip moves keyboard focus too) and the console's navigation with the current section marked.
 */
export function layout(page: ConsolePage): Html {
  const links = NAVIGATION.map(
    (entry) =>
      html`<li><a href="${entry.href}"${entry.section === page.section ? html` aria-current="page"` : ''}>${entry.label}</a></li>`,
  );
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} · Order console</title>
<link rel="stylesheet" href="${consoleUrl.stylesheet()}">
<script src="${consoleUrl.script()}" defer></script>
</head>
<body>
<a class="skip-link" href="#main">Skip to main content</a>
<header class="masthead">
<a class="brand" href="${consoleUrl.overview()}">Order console</a>
<nav aria-label="Console"><ul>${links}</ul></nav>
</header>
<main id="main" tabindex="-1">
${page.main}
</main>
</body>
</html>
`;
}

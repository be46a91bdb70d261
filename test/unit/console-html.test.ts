import { describe, expect, it } from 'vitest';
import { html } from '../../lib/console/html';

describe('html', () => {
  it('escapes every interpolated text, in content and in quoted attributes', () => {
    // Act
    const markup = html`<a title="${`"'><script>`}">${'<b>&amp;</b>'}</a>`.toString();

    // Assess
    expect(markup).toBe('<a title="&quot;&#39;&gt;&lt;script&gt;">&lt;b&gt;&amp;amp;&lt;/b&gt;</a>');
  });

  it('inserts markup it made itself as it is, once, however deeply nested', () => {
    // Prepare
    const inner = html`<em>${'<i>'}</em>`;

    // Act
    const markup = html`<p>${html`<span>${inner}</span>`}</p>`.toString();

    // Assess
    expect(markup).toBe('<p><span><em>&lt;i&gt;</em></span></p>');
  });

  it('joins lists, writes numbers, and writes nothing for false, null and undefined', () => {
    // Act
    const markup = html`<ul>${['a<', html`<li>b</li>`, 3]}</ul>${false}${null}${undefined}${0}`.toString();

    // Assess
    expect(markup).toBe('<ul>a&lt;<li>b</li>3</ul>0');
  });

  it('escapes an object that only looks like markup', () => {
    // Prepare: what a caller outside the type system could pass
    const lookAlike = { toString: () => '<script>' } as unknown as string;

    // Act
    const markup = html`${lookAlike}`.toString();

    // Assess
    expect(markup).toBe('&lt;script&gt;');
  });
});

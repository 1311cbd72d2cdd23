import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** A fenced code block of a Markdown file. */
export interface CodeBlock {
  /** The file, relative to the repository. */
  readonly file: string;
  /** The fence's language (`ts`, `bash`...). */
  readonly lang: string;
  /** The code, without the indentation of a list item. */
  readonly code: string;
  /** Line (1-based) of the block's first line of code. */
  readonly line: number;
  /**
   * Code the block needs but does not show (declarations), from an HTML comment right above it:
   * `<!-- ts-prelude declare const locks: LockService; -->`.
   */
  readonly prelude: string;
}

/** A link to a file or an anchor of the repository, as a Markdown file writes it. */
export interface RelativeLink {
  readonly file: string;
  readonly line: number;
  readonly target: string;
}

const FENCE = /^(\s*)```(\S*)\s*$/;
const PRELUDE = /<!--\s*ts-prelude\s+([\s\S]*?)-->\s*$/;

/**
 * The Markdown files users read: the README, the CHANGELOG, CONTRIBUTING, everything in docs/, and the benchmark's.
 * @param root the repository
 */
export function documentationFiles(root: string): string[] {
  const docs = existsSync(join(root, 'docs'))
    ? readdirSync(join(root, 'docs'))
        .filter((name) => name.endsWith('.md'))
        .map((name) => join('docs', name))
    : [];
  return ['README.md', 'CHANGELOG.md', 'CONTRIBUTING.md', join('bench', 'README.md'), ...docs].filter((file) =>
    existsSync(join(root, file)),
  );
}

/**
 * The fenced code blocks of a Markdown file.
 * @param root the repository
 * @param file the file, relative to it
 */
export function codeBlocks(root: string, file: string): CodeBlock[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const open = FENCE.exec(lines[i]);
    if (!open) {
      continue;
    }
    const indent = open[1].length;
    const end = lines.findIndex((text, at) => at > i && /^\s*```\s*$/.test(text));
    const body = lines.slice(i + 1, end).map((text) => text.slice(Math.min(indent, text.length - text.trimStart().length)));
    const prelude = PRELUDE.exec(lines[i - 1] ?? '')?.[1] ?? '';
    blocks.push({ file, lang: open[2], code: body.join('\n'), line: i + 2, prelude });
    i = end;
  }
  return blocks;
}

/**
 * The links of a Markdown file that point into the repository (not `http:`, `https:` or `mailto:`), outside code.
 * @param root the repository
 * @param file the file, relative to it
 */
export function relativeLinks(root: string, file: string): RelativeLink[] {
  const links: RelativeLink[] = [];
  let inFence = false;
  readFileSync(join(root, file), 'utf8')
    .split('\n')
    .forEach((text, index) => {
      if (FENCE.test(text)) {
        inFence = !inFence;
        return;
      }
      if (inFence) {
        return;
      }
      const prose = text.replace(/`[^`]*`/g, '');
      for (const match of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        if (!/^(https?:|mailto:)/.test(match[1])) {
          links.push({ file, line: index + 1, target: match[1] });
        }
      }
    });
  return links;
}

/**
 * The anchors GitHub gives a Markdown file's headings (`## \`@Locked\`` is `#locked`, a repeated heading gets `-1`).
 * @param root the repository
 * @param file the file, relative to it
 */
export function headingAnchors(root: string, file: string): Set<string> {
  const anchors = new Set<string>();
  let inFence = false;
  for (const text of readFileSync(join(root, file), 'utf8').split('\n')) {
    if (FENCE.test(text)) {
      inFence = !inFence;
    }
    const heading = inFence ? null : /^#{1,6}\s+(.*)$/.exec(text);
    if (!heading) {
      continue;
    }
    const slug = heading[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    let unique = slug;
    for (let n = 1; anchors.has(unique); n += 1) {
      unique = `${slug}-${n}`;
    }
    anchors.add(unique);
  }
  return anchors;
}

/**
 * Whether a link of `file` points at an existing file (and, with `#anchor`, at one of its headings).
 * @param root the repository
 * @param link the link
 * @returns undefined if it resolves, else why not
 */
export function brokenLink(root: string, link: RelativeLink): string | undefined {
  const [path, anchor] = link.target.split('#');
  const target = path === '' ? link.file : relative(root, join(root, link.file, '..', decodeURIComponent(path)));
  if (!existsSync(join(root, target))) {
    return `${target} does not exist`;
  }
  if (anchor !== undefined && target.endsWith('.md') && !headingAnchors(root, target).has(anchor)) {
    return `${target} has no heading #${anchor}`;
  }
  return undefined;
}

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { brokenLink, codeBlocks, documentationFiles, relativeLinks, type CodeBlock } from '../support/markdown';

const root = join(__dirname, '..', '..');
const out = join(root, '.tmp', 'docs-check');
const NAMED_FILE = /^\/\/ ([\w.-]+\.ts)\n/;

/** What a block without imports of its own may use unimported: the names a Nest app with nest-lock has at hand. */
const IMPORTS = [
  "import { Body, Controller, Get, HttpCode, Injectable, Module, Param, ParseIntPipe, Post, Put, UseGuards, type ExecutionContext } from '@nestjs/common';",
  "import { Cron, CronExpression, Interval } from '@nestjs/schedule';",
  "import { Observable } from 'rxjs';",
  'import { Lock, Locked, LockError, LockInterceptor, LockLostError, LockModule, LockNotAcquiredError, LockService, LockStore, ' +
    "LockStoreUnavailableError, InvalidLockOptionsError, LeaderOnly, MemoryLockStore, RedisLockStore, UseLock } from 'nest-lock';",
].join(' ');

/** The TypeScript blocks of the README and docs/, each written as a module of its own, with where it came from. */
function writeBlocks(): Map<string, { block: CodeBlock; offset: number }> {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const written = new Map<string, { block: CodeBlock; offset: number }>();
  const files = documentationFiles(root).filter((file) => file === 'README.md' || file.startsWith('docs'));
  for (const block of files.flatMap((file) => codeBlocks(root, file))) {
    if (block.lang !== 'ts' && block.lang !== 'typescript') {
      continue;
    }
    const imports = /^\s*import\s/m.test(block.code) ? '' : IMPORTS;
    // The prelude's lines go on one line, so that the block's lines keep their numbers (plus one).
    const source = `${imports} ${block.prelude.replace(/\n/g, ' ')}\n${block.code}\n`;
    // A block without imports or exports is still a module: its names stay its own, and top-level await works.
    const module = /^\s*(import|export)\s/m.test(source) ? source : `${source}export {};\n`;
    // A block that names its file (`// orders.service.ts`) is that file, beside the other files its document names.
    const named = NAMED_FILE.exec(block.code)?.[1];
    const folder = join(out, block.file.replace(/[^\w]+/g, '-'));
    const path = join(folder, named ?? `block-${block.line}.ts`);
    mkdirSync(folder, { recursive: true });
    writeFileSync(path, module);
    written.set(path, { block, offset: 1 });
  }
  return written;
}

describe('the README and docs/', () => {
  it('have TypeScript blocks that compile against the package, as a user would write them', () => {
    const blocks = writeBlocks();
    expect(blocks.size).toBeGreaterThan(5);
    const program = ts.createProgram([...blocks.keys()], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
      strict: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      esModuleInterop: true,
      skipLibCheck: true,
      noEmit: true,
      types: ['node', 'jest'],
      typeRoots: [join(root, 'node_modules', '@types')],
      baseUrl: root,
      paths: { 'nest-lock': ['lib/index.ts'], 'nest-lock/*': ['lib/*/index.ts'] },
    });
    const errors = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      const written = diagnostic.file && blocks.get(diagnostic.file.fileName);
      if (!diagnostic.file || diagnostic.start === undefined || !written) {
        return `${diagnostic.file?.fileName ?? '?'}: ${text}`;
      }
      const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
      return `${written.block.file}:${written.block.line + line - written.offset}: ${text}`;
    });
    expect(errors).toEqual([]);
  }, 120_000);

  it('link only to files and headings that exist', () => {
    const broken = documentationFiles(root)
      .flatMap((file) => relativeLinks(root, file))
      .map((link) => ({ link, why: brokenLink(root, link) }))
      .filter(({ why }) => why !== undefined)
      .map(({ link, why }) => `${link.file}:${link.line}: (${link.target}) ${why}`);
    expect(broken).toEqual([]);
  });

  it('keep the README short enough to read in ten minutes (at most 300 lines)', () => {
    expect(readFileSync(join(root, 'README.md'), 'utf8').trimEnd().split('\n').length).toBeLessThanOrEqual(300);
  });

  it.each(['orders.service.ts', 'orders.service.spec.ts'])(
    'show, in "Testing your app", the %s the test suite runs (test/readme/), word for word',
    (name) => {
      const file = readFileSync(join(root, 'test', 'readme', name), 'utf8').trim();
      const shown = codeBlocks(root, 'README.md').map((block) => block.code.trim());
      expect(shown).toContain(file);
    },
  );
});

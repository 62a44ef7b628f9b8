import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { type MemoryEvents, PageAllocator } from '../src/alloc/index.js';
import { EventBus, PhysicalMemory, unwrap } from '../src/index.js';

const setup = () => {
  const memory = new PhysicalMemory([{ name: 'dram', base: 2 ** 31, size: 2 ** 22 }]);
  const bus = new EventBus<MemoryEvents>('memory');
  const pa = new PageAllocator(memory, bus);
  return { bus, pa, pages: pa.pages };
};
const codeOf = (r: E.Either<{ code: string }, unknown>) => (E.isLeft(r) ? r.left.code : 'ok');

describe('PageMetadata (struct page counters)', () => {
  it('an allocated page starts with one reference; the last put_page frees it (include/linux/mm.h put_page)', () => {
    const { pa, pages } = setup();
    const pfn = unwrap(pa.allocPages(0));
    expect(pages.refcount(pfn)).toBe(1);
    unwrap(pages.getPage(pfn));
    expect(pages.refcount(pfn)).toBe(2);
    unwrap(pages.putPage(pfn));
    expect(pa.freePageCount()).toBe(1023);
    unwrap(pages.putPage(pfn));
    expect(pages.refcount(pfn)).toBe(0);
    expect(pa.freePageCount()).toBe(1024);
    expect(codeOf(pages.putPage(pfn))).toBe('EINVAL');
  });

  it("counters of any page of a compound block are the head page's (include/linux/mm.h page_folio, compound_head)", () => {
    const { pa, pages } = setup();
    const head = unwrap(pa.allocPages(3));
    expect(pages.compoundHead(head + 5)).toBe(head);
    expect(pages.compoundOrder(head + 5)).toBe(3);
    unwrap(pages.getPage(head + 7));
    expect(pages.refcount(head)).toBe(2);
    expect(pages.refcount(head + 1)).toBe(2);
    unwrap(pages.putPage(head + 2));
    unwrap(pages.putPage(head + 2));
    expect(pages.compoundHead(head + 5)).toBe(-1);
    expect(pa.freePageCount()).toBe(1024);
  });

  it('a FOLL_PIN pin takes a reference as well as a pin (mm/gup.c try_grab_folio)', () => {
    const { pa, pages } = setup();
    const pfn = unwrap(pa.allocPages(0));
    unwrap(pages.pin(pfn));
    unwrap(pages.pin(pfn));
    expect(pages.pincount(pfn)).toBe(2);
    expect(pages.refcount(pfn)).toBe(3);
  });

  it('the owner may drop its reference while pinned; the last unpin frees the page (mm/gup.c unpin_user_page)', () => {
    const { pa, pages } = setup();
    const pfn = unwrap(pa.allocPages(0));
    unwrap(pages.pin(pfn));
    unwrap(pages.putPage(pfn));
    expect(pages.refcount(pfn)).toBe(1);
    expect(pa.freePageCount()).toBe(1023);
    unwrap(pages.unpin(pfn));
    expect(pages.refcount(pfn)).toBe(0);
    expect(pa.freePageCount()).toBe(1024);
  });

  it('put_page cannot drop a reference a pin holds, and unpin needs a pin: our model refuses both (include/linux/mm.h)', () => {
    const { pa, pages } = setup();
    const pfn = unwrap(pa.allocPages(0));
    unwrap(pages.pin(pfn));
    unwrap(pages.putPage(pfn));
    expect(codeOf(pages.putPage(pfn))).toBe('EINVAL');
    unwrap(pages.unpin(pfn));
    expect(codeOf(pages.unpin(pfn))).toBe('EINVAL');
    const other = unwrap(pa.allocPages(0));
    expect(codeOf(pages.unpin(other))).toBe('EINVAL');
    expect(pages.refcount(other)).toBe(1);
  });

  it('counter operations on a page that is not allocated fail with EINVAL and change nothing', () => {
    const { pa, pages } = setup();
    const pfn = unwrap(pa.allocPages(0));
    for (const p of [pfn + 1, 12, -1, 1.5, Number.NaN]) {
      expect(codeOf(pages.getPage(p))).toBe('EINVAL');
      expect(codeOf(pages.pin(p))).toBe('EINVAL');
      expect(pages.refcount(p)).toBe(0);
    }
    expect(pages.allocatedPages).toBe(1);
  });

  it('emits page-get, page-put, pin and unpin with the counts after the change', () => {
    const { bus, pa, pages } = setup();
    const seen: string[] = [];
    bus.on('page-get', (e) => seen.push(`get ${e.refcount}`));
    bus.on('page-put', (e) => seen.push(`put ${e.refcount}`));
    bus.on('pin', (e) => seen.push(`pin ${e.pincount}`));
    bus.on('unpin', (e) => seen.push(`unpin ${e.pincount}`));
    bus.on('page-free', () => seen.push('free'));
    const pfn = unwrap(pa.allocPages(0));
    unwrap(pages.getPage(pfn));
    unwrap(pages.pin(pfn));
    unwrap(pages.unpin(pfn));
    unwrap(pages.putPage(pfn));
    unwrap(pages.putPage(pfn));
    expect(seen).toEqual(['get 2', 'pin 1', 'unpin 0', 'put 1', 'put 0', 'free']);
  });
});

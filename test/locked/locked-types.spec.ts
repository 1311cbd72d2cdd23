import { Observable, of } from 'rxjs';
import { Locked } from '../../lib';

// Compile-time contract of @Locked, checked by `tsc --noEmit` in `npm test`: each @ts-expect-error must be an error.
class Typed {
  @Locked((id: string) => `order:${id}`)
  async matching(id: string, _extra: number): Promise<string> {
    return id;
  }

  // @ts-expect-error the key function's parameter does not match the method's
  @Locked((id: number) => `order:${id}`)
  async mismatched(id: string): Promise<string> {
    return id;
  }

  // @ts-expect-error a @Locked call is asynchronous, so a method returning a plain value cannot keep its type
  @Locked('sync-value')
  syncValue(): number {
    return 1;
  }

  @Locked('stream')
  stream(): Observable<number> {
    return of(1);
  }

  @Locked({ key: (id: string) => [`a:${id}`, `b:${id}`], ttl: 1000, onBusy: 'skip' })
  async definition(id: string): Promise<void> {
    void id;
  }

  @Locked('void')
  noResult(): void {}
}

describe('@Locked typing', () => {
  it('compiles for matching methods (the real check is tsc)', () => {
    expect(typeof Typed.prototype.matching).toBe('function');
  });
});

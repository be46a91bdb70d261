import { expect } from 'vitest';
import { at, type Contract, storedOrder } from './subject';

/** What every {@link LeaseStore} must do: one live holder at a time, expiry, fencing tokens that only grow. */
export const leaseStoreContract = {
  'gives a lease until now plus its duration, and refuses a second acquirer while it is live': async (
    subject,
  ) => {
    const { orderId } = await storedOrder(subject);

    const lease = await subject.leases.acquire(orderId, 'first', at(0), 30);
    const second = subject.leases.acquire(orderId, 'second', at(29.999), 30);

    expect(lease).toEqual({ orderId, owner: 'first', fencingToken: expect.any(Number), expiresAt: at(30) });
    await expect(second).rejects.toMatchObject({ code: 'PAYMENT_IN_PROGRESS' });
  },

  'gives its own holder the same lease again while it is live (a retried acquisition that went through)':
    async (subject) => {
      const { orderId } = await storedOrder(subject);
      const lease = await subject.leases.acquire(orderId, 'owner', at(0), 30);

      const retried = await subject.leases.acquire(orderId, 'owner', at(0.2), 30);

      expect(retried).toEqual(lease);
      await expect(subject.leases.acquire(orderId, 'other', at(1), 30)).rejects.toMatchObject({
        code: 'PAYMENT_IN_PROGRESS',
      });
    },

  "shows a held lease's expiry on the order's read, and nothing once it is released": async (subject) => {
    const { orderId } = await storedOrder(subject);
    const before = await subject.orders.get(orderId);
    const lease = await subject.leases.acquire(orderId, 'holder', at(0), 30);

    const held = await subject.orders.get(orderId);
    await subject.leases.release(lease);
    const released = await subject.orders.get(orderId);

    expect(before).not.toHaveProperty('paymentLeaseUntil');
    expect(held?.paymentLeaseUntil).toEqual(at(30));
    expect(released).not.toHaveProperty('paymentLeaseUntil');
  },

  'lets the lease be taken over from the instant it expires, with a token one higher': async (subject) => {
    const { orderId } = await storedOrder(subject);
    const first = await subject.leases.acquire(orderId, 'first', at(0), 30);

    const takeover = await subject.leases.acquire(orderId, 'second', at(30), 30);

    expect(takeover).toMatchObject({
      owner: 'second',
      fencingToken: first.fencingToken + 1,
      expiresAt: at(60),
    });
  },

  'frees a released lease at once, and the next holder gets the next token': async (subject) => {
    const { orderId } = await storedOrder(subject);
    const first = await subject.leases.acquire(orderId, 'first', at(0), 30);

    await subject.leases.release(first);
    const next = await subject.leases.acquire(orderId, 'second', at(1), 30);

    expect(next.fencingToken).toBe(first.fencingToken + 1);
  },

  'refuses the release of a taken-over lease and keeps the new holder': async (subject) => {
    const { orderId } = await storedOrder(subject);
    const stale = await subject.leases.acquire(orderId, 'stale', at(0), 10);
    await subject.leases.acquire(orderId, 'current', at(10), 30);

    const release = subject.leases.release(stale);

    await expect(release).rejects.toMatchObject({ code: 'LEASE_NOT_HELD' });
    await expect(subject.leases.acquire(orderId, 'third', at(11), 30)).rejects.toMatchObject({
      code: 'PAYMENT_IN_PROGRESS',
    });
  },

  'refuses a second release of the same lease': async (subject) => {
    const lease = await subject.leases.acquire((await storedOrder(subject)).orderId, 'owner', at(0), 30);
    await subject.leases.release(lease);

    await expect(subject.leases.release(lease)).rejects.toMatchObject({ code: 'LEASE_NOT_HELD' });
  },

  'releases an expired lease that nobody took over': async (subject) => {
    const { orderId } = await storedOrder(subject);
    const lease = await subject.leases.acquire(orderId, 'owner', at(0), 10);

    await subject.leases.release(lease);
    const next = await subject.leases.acquire(orderId, 'next', at(20), 10);

    expect(next.fencingToken).toBe(lease.fencingToken + 1);
  },

  'refuses a release naming the right token but another owner': async (subject) => {
    const lease = await subject.leases.acquire((await storedOrder(subject)).orderId, 'owner', at(0), 30);

    const release = subject.leases.release({ ...lease, owner: 'impostor' });

    await expect(release).rejects.toMatchObject({ code: 'LEASE_NOT_HELD' });
  },
} satisfies Contract;

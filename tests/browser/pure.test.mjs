// The page's pure helpers, checked in Node without a browser: room names and
// invite links, display names, the reconnect backoff, the socket address,
// who takes the stage and who is listed first, a chat message as a notice
// and the links in it, reactions among signals, talk told from other sounds, the tab's title, who
// the pre-join screen says is there, the keyboard shortcuts, the invite
// link, links kept through a reconnect (the proofs and the keeper's rules),
// the meeting page's module preloads.
import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  nameProblem, roomFromPath, roomPath, isValidRoomName, meetingTitle, presenceText, withRecent,
} from '../../public/js/names.js';
import { parseRoomInput } from '../../public/js/join.js';
import { isPushToTalk, shortcutFor } from '../../public/js/shortcuts.js';
import { inviteLink } from '../../public/js/invite.js';
import { talkDetector } from '../../public/js/media.js';
import { reactionIn, REACTIONS } from '../../public/js/reactions.js';
import { backoffDelay, roomSocketUrl } from '../../public/js/signaling.js';
import { isPolite, videoLimitsFor } from '../../public/js/peers.js';
import { featuredKey, galleryFit, handsFirst, withHand } from '../../public/js/spotlight.js';
import { previewText, splitLinks } from '../../public/js/chat.js';
import { claimProof, createLinkKeeper, linkSignalIn, newLinkKey } from '../../public/js/resume.js';

describe('room names', () => {
  it('accepts codes, names and whole invite links', () => {
    assert.deepEqual(parseRoomInput('abc-defg-hij'), { room: 'abc-defg-hij' });
    assert.deepEqual(parseRoomInput('  Team_Room-1 '), { room: 'Team_Room-1' });
    assert.deepEqual(parseRoomInput('https://noom.example/r/abc-defg-hij?x=1'), { room: 'abc-defg-hij' });
  });

  it('read a code typed back loosely as that code, and keep a name\'s or a link\'s case', () => {
    assert.deepEqual(parseRoomInput('Abc-Defg-Hij'), { room: 'abc-defg-hij' });
    assert.deepEqual(parseRoomInput(' xyz wxyz  abc '), { room: 'xyz-wxyz-abc' });
    assert.deepEqual(parseRoomInput('ABC - DEFG - HIJ'), { room: 'abc-defg-hij' });
    assert.deepEqual(parseRoomInput('Standup'), { room: 'Standup' });
    assert.deepEqual(parseRoomInput('Abcd-Defg-Hij'), { room: 'Abcd-Defg-Hij' });
    assert.deepEqual(parseRoomInput('https://noom.example/r/Abc-Defg-Hij'), { room: 'Abc-Defg-Hij' });
  });

  it('explains what is wrong with bad input', () => {
    assert.match(parseRoomInput('').error, /Type a meeting code/);
    assert.match(parseRoomInput('team meeting').error, /letters, digits/);
    assert.match(parseRoomInput('x'.repeat(65)).error, /at most 64/);
    assert.match(parseRoomInput('<script>').error, /letters, digits/);
  });

  it('make the meeting page\'s path, public when asked', () => {
    assert.equal(roomPath('abc-defg-hij'), '/r/abc-defg-hij');
    assert.equal(roomPath('Team_1', true), '/r/Team_1?public=1');
    assert.equal(roomFromPath(roomPath('Team_1', true).split('?')[0]), 'Team_1');
  });

  it('reads the room from the meeting path', () => {
    assert.equal(roomFromPath('/r/abc-defg-hij'), 'abc-defg-hij');
    assert.equal(roomFromPath('/r/abc/extra'), null);
    assert.equal(roomFromPath('/'), null);
    assert.equal(isValidRoomName('a'.repeat(64)), true);
    assert.equal(isValidRoomName('é'), false);
  });
});

describe('display names', () => {
  it('follow the server rule: 1 to 32 characters after trimming, no control characters', () => {
    assert.equal(nameProblem('Ann'), null);
    assert.equal(nameProblem('  Ann  '), null);
    assert.equal(nameProblem('😀'.repeat(32)), null);
    assert.match(nameProblem('   '), /Enter your name/);
    assert.match(nameProblem('a'.repeat(33)), /at most 32/);
    assert.match(nameProblem('A\u0007nn'), /control/);
  });
});

describe('signaling', () => {
  it('backs off exponentially with jitter, capped', () => {
    assert.equal(backoffDelay(0, () => 0), 250);
    assert.equal(backoffDelay(0, () => 1), 500);
    assert.equal(backoffDelay(3, () => 1), 4000);
    assert.equal(backoffDelay(20, () => 1), 5_000);
    for (let i = 0; i < 50; i += 1) {
      const d = backoffDelay(4);
      assert.ok(d >= 2500 && d <= 5000, `delay ${d}`);
    }
  });

  it('talks to the page\'s own origin with the matching scheme', () => {
    assert.equal(roomSocketUrl('abc', { protocol: 'https:', host: 'noom.example' }), 'wss://noom.example/api/rooms/abc/ws');
    assert.equal(roomSocketUrl('abc', { protocol: 'http:', host: '127.0.0.1:8787' }), 'ws://127.0.0.1:8787/api/rooms/abc/ws');
  });

  it('makes exactly one side of each pair polite', () => {
    assert.notEqual(isPolite('aaaa1111', 'bbbb2222'), isPolite('bbbb2222', 'aaaa1111'));
  });
});

describe('outgoing video limits', () => {
  it('send each copy smaller as the mesh grows, and never shrink a shared screen', () => {
    const pixels = (l) => 1 / (l.scaleResolutionDownBy ** 2);
    const sizes = [1, 2, 3, 4, 7].map((n) => videoLimitsFor(n, false));
    for (let i = 1; i < sizes.length; i += 1) {
      assert.ok(sizes[i].maxBitrate <= sizes[i - 1].maxBitrate);
      assert.ok(pixels(sizes[i]) * sizes[i].maxFramerate <= pixels(sizes[i - 1]) * sizes[i - 1].maxFramerate);
    }
    // What one person uploads in total stays within about twice a two-person call.
    assert.ok(videoLimitsFor(7, false).maxBitrate * 7 <= 2 * videoLimitsFor(1, false).maxBitrate);
    assert.equal(videoLimitsFor(1, false).scaleResolutionDownBy, 1);
    for (const n of [1, 3, 7]) assert.equal(videoLimitsFor(n, true).scaleResolutionDownBy, 1);
  });
});

describe('who is shown large and listed first', () => {
  const peers = (entries) => new Map(entries.map(([id, screen]) => [id, { screen }]));

  it('puts the pin on the stage, else a shared screen, else no one', () => {
    const two = peers([['bob', false], ['cat', true]]);
    assert.equal(featuredKey({ pinned: null, presenter: null, peers: peers([['bob', false]]) }), null);
    assert.equal(featuredKey({ pinned: null, presenter: null, peers: two }), 'cat');
    assert.equal(featuredKey({ pinned: 'bob', presenter: 'cat', peers: two }), 'bob');
    assert.equal(featuredKey({ pinned: 'self', presenter: 'cat', peers: two }), 'self');
    // A pin on someone who left no longer counts.
    assert.equal(featuredKey({ pinned: 'dan', presenter: null, peers: two }), 'cat');
  });

  it('prefers the latest presenter while they share, then whoever still shares', () => {
    const both = peers([['bob', true], ['cat', true]]);
    assert.equal(featuredKey({ pinned: null, presenter: 'bob', peers: both }), 'bob');
    assert.equal(featuredKey({ pinned: null, presenter: 'cat', peers: both }), 'cat');
    assert.equal(featuredKey({ pinned: null, presenter: 'bob', peers: peers([['bob', false], ['cat', true]]) }), 'cat');
    assert.equal(featuredKey({ pinned: null, presenter: 'bob', peers: peers([['bob', false]]) }), null);
  });

  it('lists raised hands first, in the order they went up', () => {
    let queue = [];
    queue = withHand(queue, 'cat', true);
    queue = withHand(queue, 'self', true);
    queue = withHand(queue, 'cat', true); // already up: keeps its place
    assert.deepEqual(queue, ['cat', 'self']);
    const people = ['self', 'bob', 'cat', 'dan'].map((key) => ({ key }));
    assert.deepEqual(handsFirst(people, queue).map((p) => p.key), ['cat', 'self', 'bob', 'dan']);
    queue = withHand(queue, 'cat', false);
    assert.deepEqual(handsFirst(people, queue).map((p) => p.key), ['self', 'bob', 'cat', 'dan']);
    assert.deepEqual(people.map((p) => p.key), ['self', 'bob', 'cat', 'dan'], 'the input is left as it was');
  });
});

describe('the gallery\'s shape', () => {
  it('picks the columns that give the largest tiles', () => {
    // Alone on a wide screen: one tile, no wider than 16:9.
    assert.deepEqual(galleryFit(1, 1256, 596, 8), { columns: 1, width: 1059, height: 596 });
    // Two side by side on a computer, stacked on a phone held upright.
    assert.deepEqual(galleryFit(2, 1256, 596, 8), { columns: 2, width: 624, height: 468 });
    assert.equal(galleryFit(2, 366, 680, 8).columns, 1);
    assert.equal(galleryFit(3, 366, 680, 8).columns, 1);
    // Three on a computer: two rows (2 + 1), not three narrow columns.
    assert.deepEqual(galleryFit(3, 1256, 596, 8), { columns: 2, width: 522, height: 294 });
    assert.equal(galleryFit(8, 1256, 596, 8).columns, 4); // 4 × 2
  });

  it('keeps every tile between 4:3 (3:4 in a tall box) and 16:9, inside the box', () => {
    for (const [width, height] of [[1256, 596], [892, 596], [366, 680], [700, 700], [320, 200], [1900, 300]]) {
      for (let count = 1; count <= 12; count += 1) {
        const fit = galleryFit(count, width, height, 8);
        const rows = Math.ceil(count / fit.columns);
        const where = `${count} in ${width}x${height}: ${JSON.stringify(fit)}`;
        assert.ok(fit.width > 0 && fit.height > 0, where);
        assert.ok(fit.columns * fit.width + (fit.columns - 1) * 8 <= width, `too wide, ${where}`);
        assert.ok(rows * fit.height + (rows - 1) * 8 <= height, `too tall, ${where}`);
        const aspect = fit.width / fit.height;
        assert.ok(aspect <= 16 / 9 + 0.01 && aspect >= (width < height ? 3 / 4 : 4 / 3) - 0.01, `shape, ${where}`);
      }
    }
  });
});

describe('chat notices', () => {
  it('show a message on one line, cut at 80 characters', () => {
    assert.equal(previewText('  hello\n\n  there\t you '), 'hello there you');
    assert.equal(previewText('x'.repeat(80)), 'x'.repeat(80));
    assert.equal(previewText('x'.repeat(81)), `${'x'.repeat(79)}…`);
    // Cut between characters, never inside one.
    assert.equal(previewText('😀'.repeat(100)), `${'😀'.repeat(79)}…`);
  });
});

describe('links in chat', () => {
  const links = (text) => splitLinks(text).filter((p) => p.href).map((p) => [p.text, p.href]);

  it('finds http and https addresses, leaving a sentence\'s punctuation outside', () => {
    assert.deepEqual(splitLinks('see https://example.com/a?b=1. ok'), [
      { text: 'see ' }, { text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' }, { text: '. ok' }]);
    assert.deepEqual(links('(http://x.org/y), HTTPS://X.ORG!'), [['http://x.org/y', 'http://x.org/y'], ['HTTPS://X.ORG', 'https://x.org/']]);
    // A bracket the link opened is part of it.
    assert.deepEqual(links('(https://en.wikipedia.org/wiki/Foo_(bar))'), [['https://en.wikipedia.org/wiki/Foo_(bar)', 'https://en.wikipedia.org/wiki/Foo_(bar)']]);
    assert.deepEqual(links('a http://ex.com/<b>x</b>'), [['http://ex.com/', 'http://ex.com/']]);
  });

  it('leaves everything else as text, and loses no character', () => {
    for (const text of ['javascript:alert(1)', 'https:///x', 'http://[bad', 'xhttps://a.b', 'ftp://a.b', 'data:text/html,hi', '']) {
      assert.deepEqual(links(text), [], text);
    }
    const text = '😀 https://a.b/ç?q=1 and http://c.d.';
    assert.equal(splitLinks(text).map((p) => p.text).join(''), text);
  });
});

describe('reactions', () => {
  it('are told apart from the peer link\'s signals, and only the ones on offer count', () => {
    assert.equal(reactionIn({ reaction: '👍' }), '👍');
    assert.equal(reactionIn({ reaction: '❤️' }), '❤️');
    assert.equal(Object.keys(REACTIONS).length, 6);
    for (const data of [{ description: { type: 'offer', sdp: 'v=0' } }, { candidate: { candidate: '' } }, { reaction: '<img>' },
      { reaction: 'toString' }, { reaction: 1 }, null, undefined, 'x', []]) {
      assert.equal(reactionIn(data), null, JSON.stringify(data));
    }
  });
});

describe('links kept through a reconnect', () => {
  it('have random 128-bit keys', () => {
    const keys = new Set(Array.from({ length: 50 }, newLinkKey));
    assert.equal(keys.size, 50);
    for (const key of keys) assert.match(key, /^[0-9a-f]{32}$/);
  });

  it('are claimed with a proof made for one addressee, which does not give the key away', async () => {
    const key = newLinkKey();
    const proof = await claimProof(key, 'peer-b');
    assert.match(proof, /^[0-9a-f]{32}$/);
    assert.equal(await claimProof(key, 'peer-b'), proof, 'the holder of the key computes the same proof');
    assert.notEqual(await claimProof(key, 'peer-c'), proof, 'a proof for B is no use to C');
    assert.notEqual(await claimProof(newLinkKey(), 'peer-b'), proof);
    assert.ok(!proof.includes(key));
  });

  it('are told apart from negotiation and reactions, and malformed ones are ignored', () => {
    assert.deepEqual(linkSignalIn({ link: 'abc' }), { link: 'abc' });
    assert.deepEqual(linkSignalIn({ resume: ['p1', 'p2'] }), { resume: ['p1', 'p2'] });
    assert.deepEqual(linkSignalIn({ resume: ['p1', 7, '', 'x'.repeat(65), { a: 1 }] }), { resume: ['p1'] });
    assert.equal(linkSignalIn({ resume: Array.from({ length: 100 }, (_, i) => `p${i}`) }).resume.length, 32);
    assert.deepEqual(linkSignalIn({ resumed: 'p1' }), { resumed: 'p1', mine: [] });
    assert.deepEqual(linkSignalIn({ resumed: null, mine: ['p2', 3] }), { resumed: null, mine: ['p2'] });
    assert.deepEqual(linkSignalIn({ resumed: 3, mine: 'p2' }), { resumed: null, mine: [] });
    assert.deepEqual(linkSignalIn({ bye: true }), { bye: true });
    for (const data of [{ description: { type: 'offer', sdp: 'v=0' } }, { candidate: { candidate: '' } }, { reaction: '👍' },
      { link: 5 }, { link: '' }, { link: 'x'.repeat(65) }, { resume: 'p1' }, { bye: 1 }, null, undefined, 'x', [], ['link']]) {
      assert.equal(linkSignalIn(data), null, JSON.stringify(data));
    }
  });
});

describe('the link keeper', () => {
  /** A page's side: its peers, and a log of what the keeper asked of the meeting. */
  function page(selfId) {
    const peers = new Map();
    const log = [];
    const keeper = createLinkKeeper({
      peers,
      selfId: () => selfId,
      signal: (to, data) => log.push(['signal', to, data]),
      connect: (info) => log.push(['connect', info.id]),
      move: (peer, info) => {
        log.push(['move', peer.id, info.id]);
        peers.delete(peer.id);
        peer.id = info.id;
        peers.set(info.id, peer);
      },
      drop: (peer) => { log.push(['drop', peer.id]); peers.delete(peer.id); },
      expired: (peer) => { log.push(['expired', peer.id]); peers.delete(peer.id); },
      replace: (peer) => {
        log.push(['replace', peer.id]);
        const fresh = peerOf(peer.id, peer.info.name, 'new');
        peers.set(peer.id, fresh);
        return fresh;
      },
    });
    const add = (id, name, key, state = 'connected') => {
      const peer = { ...peerOf(id, name, state), key };
      peers.set(id, peer);
      return peer;
    };
    return { peers, log, keeper, add };
  }
  const peerOf = (id, name, state) => ({ id, info: { id, name }, key: null, parked: 0, leaving: false, link: { pc: { connectionState: state } } });
  const settle = () => new Promise((r) => setTimeout(r, 20));
  /** Waits (without timers, which may be mocked) until `done()`; at most 2000 turns. */
  const until = async (done) => {
    for (let turn = 0; turn < 2000 && !done(); turn += 1) await new Promise((r) => setImmediate(r));
    assert.ok(done(), 'waited 2000 turns');
  };

  it('takes a link\'s key once, and a different one later as the other side starting over', () => {
    const bob = page('bob');
    const ann = bob.add('ann', 'Ann', null);
    bob.keeper.onSignal('ann', { link: 'k1' });
    assert.equal(ann.key, 'k1');
    bob.keeper.onSignal('ann', { link: 'k1' });
    assert.deepEqual(bob.log, []);
    bob.keeper.onSignal('ann', { link: 'k2' });
    assert.deepEqual(bob.log, [['replace', 'ann']]);
    assert.equal(bob.peers.get('ann').key, 'k2');
    assert.notEqual(bob.peers.get('ann'), ann);
  });

  it('only a connected link that said no goodbye can be kept', () => {
    const bob = page('bob');
    assert.equal(bob.keeper.isCarryingMedia(bob.add('a', 'A', 'k')), true);
    assert.equal(bob.keeper.isCarryingMedia(bob.add('b', 'B', null)), false, 'no key');
    assert.equal(bob.keeper.isCarryingMedia(bob.add('c', 'C', 'k', 'disconnected')), false);
    const d = bob.add('d', 'D', 'k');
    bob.keeper.onSignal('d', { bye: true });
    assert.equal(bob.keeper.isCarryingMedia(d), false, 'said goodbye');
  });

  it('hands a link over to a claim with the right proof, and answers a wrong one with null', async () => {
    const bob = page('bob');
    bob.add('ann-old', 'Ann', 'k1');
    bob.add('cat', 'Cat', 'k2');
    bob.add('ann-new', 'Ann', null); // made on `joined`
    bob.keeper.onSignal('eve', { resume: ['0'.repeat(32), await claimProof('k1', 'eve')] });
    await settle();
    assert.deepEqual(bob.log, [['signal', 'eve', { resumed: null }]], 'a proof made for someone else');
    bob.log.length = 0;
    const proof = await claimProof('k1', 'bob');
    bob.keeper.onSignal('ann-new', { resume: [await claimProof('k9', 'bob'), proof] });
    await settle();
    assert.deepEqual(bob.log, [['move', 'ann-old', 'ann-new'], ['signal', 'ann-new', { resumed: proof }]]);
    assert.equal(bob.peers.get('ann-new').key, 'k1');
    assert.equal(bob.peers.get('cat').key, 'k2', 'the other link stays');
  });

  it('drops the old link instead when the claimer has already started a new one', async () => {
    const bob = page('bob');
    bob.add('ann-old', 'Ann', 'k1');
    bob.add('ann-new', 'Ann', 'k-new');
    bob.keeper.onSignal('ann-new', { resume: [await claimProof('k1', 'bob')] });
    await settle();
    assert.deepEqual(bob.log, [['drop', 'ann-old'], ['signal', 'ann-new', { resumed: null }]]);
  });

  it('after a reconnect, claims parked links and links afresh where the answer is no or never comes', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const ann = page('ann2');
      const bob = ann.add('bob', 'Bob', 'kb');
      const cat = ann.add('cat', 'Cat', 'kc');
      ann.keeper.park(bob);
      ann.keeper.park(cat);
      ann.keeper.rejoined([{ id: 'bob', name: 'Bob' }, { id: 'cat2', name: 'Cat' }, { id: 'dan', name: 'Dan' }], [bob, cat], new Map());
      await until(() => ann.log.length === 3);
      const claims = ann.log.filter(([what]) => what === 'signal');
      assert.deepEqual(claims.map(([, to]) => to).sort(), ['bob', 'cat2', 'dan']); // in whatever order the hashes finish
      const forBob = claims.find(([, to]) => to === 'bob')[2].resume;
      assert.deepEqual(forBob, [await claimProof('kb', 'bob'), await claimProof('kc', 'bob')]);
      ann.log.length = 0;
      // Cat (now cat2) takes hers back; Bob does not know the link; Dan never answers.
      ann.keeper.onSignal('cat2', { resumed: await claimProof('kc', 'cat2') });
      ann.keeper.onSignal('bob', { resumed: null });
      assert.deepEqual(ann.log, [['move', 'cat', 'cat2'], ['drop', 'bob'], ['connect', 'bob']]);
      assert.equal(cat.parked, 0);
      ann.log.length = 0;
      mock.timers.tick(3000);
      assert.deepEqual(ann.log, [['connect', 'dan']]);
      ann.log.length = 0;
      mock.timers.tick(15_000);
      assert.deepEqual(ann.log, [], 'nothing left parked');
    } finally {
      mock.timers.reset();
    }
  });

  it('a claim that proves a link which lost its media clears that link away: it was the claimer\'s old socket', async () => {
    const bob = page('bob');
    bob.add('ann-old', 'Ann', 'k1', 'failed');
    bob.add('ann-new', 'Ann', null);
    bob.keeper.onSignal('ann-new', { resume: [await claimProof('k1', 'bob')] });
    await settle();
    assert.deepEqual(bob.log, [['drop', 'ann-old'], ['signal', 'ann-new', { resumed: null }]]);
  });

  it('after both reconnected, each clears the other\'s ghost: the claim one way, the answer\'s own keys the other', async () => {
    // Ann and Bob both lost their sockets and their link (key k1). Ann came
    // back first and linked to Bob's old socket, which the server still listed.
    const ann = page('ann2');
    ann.keeper.rejoined([{ id: 'bob1', name: 'Bob' }], [], new Map([['k1', 'bob1']]));
    await until(() => ann.log.length === 1);
    assert.deepEqual(ann.log[0].slice(0, 2), ['signal', 'bob1']);
    ann.add('bob1', 'Bob', 'k-ghost', 'new'); // the claim went unanswered: a link offered to the ghost
    ann.add('bob2', 'Bob', null); // Bob's new socket joined
    // Bob came back second: the server lists Ann's old socket too.
    const bob = page('bob2');
    bob.keeper.rejoined([{ id: 'ann1', name: 'Ann' }, { id: 'ann2', name: 'Ann' }], [], new Map([['k1', 'ann1']]));
    await until(() => bob.log.length === 2);
    const claimToAnn = bob.log.find(([, to]) => to === 'ann2')[2];
    ann.log.length = 0;
    ann.keeper.onSignal('bob2', claimToAnn);
    await until(() => ann.log.length === 2);
    const answer = ann.log[1][2];
    assert.deepEqual(ann.log, [['drop', 'bob1'], ['signal', 'bob2', answer]]);
    assert.equal(answer.resumed, null);
    assert.deepEqual(answer.mine, [await claimProof('k1', 'bob2')]);
    bob.log.length = 0;
    assert.equal(bob.keeper.claimedInfo('ann1')?.name, 'Ann', 'Bob waits on a claim to Ann\'s old socket');
    bob.keeper.onSignal('ann2', linkSignalIn(answer));
    assert.deepEqual(bob.log, [['connect', 'ann2']]);
    await until(() => bob.keeper.claimedInfo('ann1') === null);
    ann.keeper.stop();
    bob.keeper.stop();
  });

  it('a parked link nobody claims expires', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const bob = page('bob');
      bob.keeper.park(bob.add('ann', 'Ann', 'k1'));
      mock.timers.tick(14_000);
      assert.deepEqual(bob.log, []);
      mock.timers.tick(1000);
      assert.deepEqual(bob.log, [['expired', 'ann']]);
    } finally {
      mock.timers.reset();
    }
  });
});

describe('talk, told from other sounds', () => {
  const feed = (levels, detector = talkDetector()) => levels.map((level) => detector(level));

  it('is loud again and again: 6 loud readings of the last 20', () => {
    const said = feed([0.5, 0, 0.4, 0, 0.3, 0, 0.6, 0, 0.2, 0, 0.5]);
    assert.deepEqual(said.map((talk, i) => (talk ? i : -1)).filter((i) => i >= 0), [10]);
  });

  it('is not a beep twice a second, a cough or steady quiet', () => {
    const beeps = Array.from({ length: 200 }, (_, i) => (i % 5 === 0 ? 1 : 0.02));
    assert.equal(feed(beeps).some(Boolean), false, 'beeps');
    assert.equal(feed([0.9, 0.9, 0.9, 0, 0, 0]).some(Boolean), false, 'a cough');
    assert.equal(feed(Array(100).fill(0.08)).some(Boolean), false, 'at the threshold');
  });

  it('forgets loud readings older than the last 20, and counts afresh after saying "talking"', () => {
    const detector = talkDetector();
    // Five loud, twenty quiet, five loud: never six in the last twenty.
    assert.equal(feed([...Array(5).fill(1), ...Array(20).fill(0), ...Array(5).fill(1)], detector).some(Boolean), false);
    assert.equal(feed([1], detector)[0], true, 'the sixth of the last twenty');
    assert.deepEqual(feed(Array(6).fill(1), detector), [false, false, false, false, false, true]);
  });
});

describe('who is in the meeting, on the pre-join screen', () => {
  const people = (...names) => names.map((name, i) => ({ id: `p${i}xxxxxx`, name }));

  it('names up to three, then counts the others', () => {
    assert.equal(presenceText([], 8), 'No one else is here yet.');
    assert.equal(presenceText(people('Ann'), 8), 'Ann is in this meeting.');
    assert.equal(presenceText(people('Ann', 'Bob'), 8), 'Ann and Bob are in this meeting.');
    assert.equal(presenceText(people('Ann', 'Bob', 'Cat'), 8), 'Ann, Bob and Cat are in this meeting.');
    assert.equal(presenceText(people('Ann', 'Bob', 'Cat', 'Dan', 'Eve'), 8), 'Ann, Bob and 3 others are in this meeting.');
  });

  it('says when the meeting is full, by the room\'s own limit', () => {
    assert.equal(presenceText(people('Ann', 'Bob'), 2), 'Ann and Bob are in this meeting. It is full (2 people): you can join when someone leaves.');
    assert.equal(presenceText(people('Ann'), 2), 'Ann is in this meeting.');
    assert.equal(presenceText(people('Ann', 'Bob'), undefined), 'Ann and Bob are in this meeting.');
  });
});

describe('recent meetings', () => {
  it('keep the last five rooms joined, newest first, each once', () => {
    let list = [];
    for (const [i, room] of ['a', 'b', 'c', 'b', 'd', 'e', 'f'].entries()) list = withRecent(list, { room, public: false, at: i });
    assert.deepEqual(list.map((e) => e.room), ['f', 'e', 'd', 'b', 'c']);
    assert.deepEqual(list[3], { room: 'b', public: false, at: 3 }, 'a room joined again keeps only its latest visit');
    assert.deepEqual(withRecent([{ room: 'x', public: true, at: 1 }], { room: 'x', public: false, at: 2 }), [{ room: 'x', public: false, at: 2 }]);
  });
});

describe('the tab\'s title', () => {
  it('names the room, with the unread chat count in front when there is one', () => {
    assert.equal(meetingTitle('abc-defg-hij'), 'abc-defg-hij · Noom');
    assert.equal(meetingTitle('team', 0), 'team · Noom');
    assert.equal(meetingTitle('team', 3), '(3) team · Noom');
    assert.equal(meetingTitle('team', 100), '(99+) team · Noom');
  });
});

describe('keyboard shortcuts', () => {
  const press = (key, mods = '', code = `Key${key.toUpperCase()}`) => ({
    key, code, ctrlKey: mods.includes('ctrl'), metaKey: mods.includes('meta'), altKey: mods.includes('alt'), shiftKey: mods.includes('shift'),
  });
  const closed = { panelOpen: false };
  const open = { panelOpen: true };

  it('toggle the microphone and camera with Ctrl or ⌘ and D or E, and nothing else', () => {
    assert.equal(shortcutFor(press('d', 'ctrl'), closed), 'mic');
    assert.equal(shortcutFor(press('D', 'meta'), closed), 'mic');
    assert.equal(shortcutFor(press('e', 'ctrl'), closed), 'camera');
    assert.equal(shortcutFor(press('d'), closed), null, 'plain d (typing in the chat)');
    assert.equal(shortcutFor(press('d', 'ctrl shift'), closed), null);
    assert.equal(shortcutFor(press('e', 'ctrl alt'), closed), null);
    assert.equal(shortcutFor(press('f', 'ctrl'), closed), null);
  });

  it('raise the hand with Ctrl+Alt+H or ⌘+Ctrl+H, read by key position', () => {
    assert.equal(shortcutFor(press('h', 'ctrl alt'), closed), 'hand');
    // On a Mac, Alt+H types "˙": the key position still says H.
    assert.equal(shortcutFor(press('˙', 'ctrl alt', 'KeyH'), closed), 'hand');
    assert.equal(shortcutFor(press('h', 'meta ctrl'), closed), 'hand');
    assert.equal(shortcutFor(press('h', 'ctrl'), closed), null, 'Ctrl+H is the browser\'s history');
    assert.equal(shortcutFor(press('h', 'ctrl alt shift'), closed), null);
  });

  it('hold Space to talk, unless a box or button has its own use for it', () => {
    const on = (matches) => ({ closest: (selector) => (matches.some((m) => selector.split(', ').includes(m)) ? {} : null) });
    assert.equal(isPushToTalk({ ...press(' ', '', 'Space'), target: on([]) }), true, 'on the page');
    assert.equal(isPushToTalk({ ...press(' ', '', 'Space'), target: undefined }), true, 'no target (window)');
    for (const owner of ['textarea', 'input', 'button', 'select', 'a[href]']) {
      assert.equal(isPushToTalk({ ...press(' ', '', 'Space'), target: on([owner]) }), false, owner);
    }
    assert.equal(isPushToTalk({ ...press(' ', 'ctrl', 'Space'), target: on([]) }), false, 'with a modifier');
    assert.equal(isPushToTalk({ ...press('k', '', 'KeyK'), target: on([]) }), false);
  });

  it('close the reaction bar, else an open panel, with Escape, unless something else took the key', () => {
    assert.equal(shortcutFor(press('Escape', '', 'Escape'), open), 'close-panel');
    assert.equal(shortcutFor(press('Escape', '', 'Escape'), closed), null);
    assert.equal(shortcutFor({ ...press('Escape', '', 'Escape'), defaultPrevented: true }, open), null);
    // The reaction bar, an open menu, closes first.
    assert.equal(shortcutFor(press('Escape', '', 'Escape'), { panelOpen: true, reactionsOpen: true }), 'close-reactions');
    assert.equal(shortcutFor(press('Escape', '', 'Escape'), { panelOpen: false, reactionsOpen: true }), 'close-reactions');
  });
});

describe('invite links', () => {
  it('lead to the room\'s page on the same origin, the name encoded', () => {
    assert.equal(inviteLink('abc-defg-hij', 'https://noom.example'), 'https://noom.example/r/abc-defg-hij');
    assert.equal(inviteLink('Team_1', 'http://127.0.0.1:8787'), 'http://127.0.0.1:8787/r/Team_1');
  });
});

describe('the meeting page', () => {
  it('preloads every module room.js imports, directly or not, and no other', () => {
    const source = (file) => readFileSync(new URL(`../../public/js/${file}`, import.meta.url), 'utf8');
    const seen = new Set();
    const visit = (file) => {
      for (const [, dep] of source(file).matchAll(/^import [^;]*? from '\.\/([\w-]+\.js)';/gms)) {
        if (!seen.has(dep)) { seen.add(dep); visit(dep); }
      }
    };
    visit('room.js');
    const html = readFileSync(new URL('../../public/room.html', import.meta.url), 'utf8');
    const preloaded = [...html.matchAll(/<link rel="modulepreload" href="\/js\/([\w-]+\.js)">/g)].map((m) => m[1]);
    assert.ok(seen.size >= 9, `found only ${[...seen]}`);
    assert.deepEqual([...preloaded].sort(), [...seen].sort());
  });
});

/*
 * shmchan.pml - Promela model of shmchan's creation handshake, slot claim,
 * lane protocol, wakeup protocol, disconnect, slot reuse and crashes.
 *
 * It models THIS code: each step names the function of src/ it stands for;
 * docs/model.md maps every step to its line, lists what is abstracted away,
 * and gives the measured state counts and the commands to re-run it.
 *
 * Processes: one Server (the application's loop around shmchan_server_wait
 * and shmchan_server_send, then shmchan_server_close), NCLIENTS Clients
 * (shmchan_client_connect, a few send and recv calls, disconnect) and, with
 * MAYRMID, a Remover (ipcrm from outside, or a second server reclaiming a
 * stale channel with the judge's rules).
 *
 * Atomicity. A semop, a GETALL/GETVAL and one aligned atomic load or store
 * of a shared word are single steps (d_step): the kernel and the CPU make
 * them indivisible. A d_step may also carry the process's private
 * bookkeeping next to that one shared access (invisible to the others). The
 * model is sequentially consistent: the code's release stores / acquire
 * loads give the orders modelled for head, tail and the header magic, and
 * its two full fences (shm_atomic.h) make the wakeup protocol's store->load
 * pairs behave as here.
 *
 * Crashes. A process in CRASHERS may die (SIGKILL) while blocked in any
 * wait, or just before any of its writes to shared state (CP below): dying
 * between two local steps is indistinguishable from dying before the next
 * shared write. On death the kernel applies the process's SEM_UNDO
 * adjustments to the set, if it still exists.
 *
 * Ghost variables (no counterpart in the C code; read only by assertions
 * and the LTL formula): holder, hpend, tpend, cpend, reoffer_due, srv_gone,
 * dead_at_wake. Consumed ring entries are zeroed in the model (the C code
 * leaves the bytes): any later read of a stale entry then fails the
 * "frame is valid" assertion, which is stronger than the code's own checks.
 *
 * Mutants (one ordering bug each; docs/model.md, "Mutation check"):
 *   -DMUT_PUBLISH_BEFORE_WRITE   (a) producer stores head before the frame
 *   -DMUT_NO_RECHECK             (b) consumer checks the lane, raises its
 *                                    flag and sleeps without looking again
 *   -DMUT_REOFFER_BEFORE_DRAIN   (c) server offers a released slot before it
 *                                    drains and resets its lanes
 *   -DMUT_SPLIT_FIRST_SEMOP      (d) creator sets MARKER and takes ALIVE in
 *                                    two semops (needs -DMAYRMID=2)
 *   -DMUT_NO_PERIODIC_SCAN       (e) server scans the slots only when woken,
 *                                    not after a liveness period (LTL)
 *   -DMUT_UNBOUNDED_WAIT         (f) client recv sleeps without a timeout
 *                                    (invalid end state once the server dies)
 *   -DMUT_LOCAL_WOKE             (g) the server's "I was woken" flag is local
 *                                    to shmchan_server_wait (the code before
 *                                    the fix of the Finding below)
 *   -DMUT_NO_OWNER_TEST          claim without {OWNER_i == 0}: not an error
 *                                    in this model (see docs/model.md)
 *
 * Finding (docs/model.md, "Finding"): the server never sleeps past a claim
 * or release whose SERVER_WAKE post was made (SRV_EVENT_OK). The code of
 * ecee880 failed it (its `woke` flag died with the call; mutant g); the
 * code now keeps the flag in the server handle (wake_unscanned) until the
 * next slot scan, as modelled by default.
 */

/* ------------------------------------------------------------ configuration */

#ifndef NSLOTS
#define NSLOTS 1          /* max_clients of the channel: 1 or 2 */
#endif
#ifndef NCLIENTS
#define NCLIENTS 2        /* client processes: 1..3 */
#endif
#ifndef C2S_MSGS
#define C2S_MSGS 1        /* client_send calls per client connection */
#endif
#ifndef RECVS
#define RECVS 1           /* client_recv calls per client connection */
#endif
#ifndef S2C_MSGS
#define S2C_MSGS 1        /* shmchan_server_send calls in the whole run */
#endif
#ifndef SLEEPS
#define SLEEPS 1          /* sleeps a blocking call may do before its deadline */
#endif
#ifndef ATTEMPTS
#define ATTEMPTS 2        /* connect attempts per client (again after NO_SLOT) */
#endif
#ifndef CRASHERS
#define CRASHERS 0        /* bit 0: the server may die; bit i: client i may die */
#endif
#ifndef MAYRMID
#define MAYRMID 0         /* 1: someone may IPC_RMID the set (ipcrm, RemoveIPC) */
#endif
#ifndef MAYCLOSE
#define MAYCLOSE 1        /* 1: the application may call shmchan_server_close */
#endif

#ifndef WITNESS
#define WITNESS 0         /* n > 0: assertion n below fails where scenario n
                           * happens (anti-vacuity: the scenario is reached) */
#endif

#if NSLOTS < 1 || NSLOTS > 2
#error "NSLOTS is 1 or 2 (the server's per-slot checks are unrolled)"
#endif
#if NCLIENTS < 1 || NCLIENTS > 3
#error "NCLIENTS is 1, 2 or 3"
#endif

#define CAP 2             /* lane capacity, in frames */
#define IDX 4             /* head/tail are free-running; modulo 2*CAP still
                           * tells fill levels 0..CAP from impossible ones */
#define NLANES (2 * NSLOTS)
#define C2S(s) (2 * (s))        /* client -> server lane of slot s */
#define S2C(s) (2 * (s) + 1)    /* server -> client lane of slot s */
#define RING(L, pos) ((L) * CAP + (pos) % CAP)

/* A frame is one byte: 128 stands for the codec's magic (a zeroed entry
 * fails parsing), then the sequence number and the type. A DATA frame is
 * written in two parts (header, then payload); the CRC-32C over both is
 * modelled as "both parts equal". A GOODBYE has no payload part. */
#define T_DATA 0
#define T_GOODBYE 1
#define FRAME(seq, type) (128 + ((seq) % 8) * 2 + (type))
#define FVALID(c) ((c) >= 128)
#define FSEQ(c) (((c) / 2) % 8)
#define FTYPE(c) ((c) % 2)

/* Server-state word in the segment header (layout.h). */
#define ST_INIT 0
#define ST_READY 1
#define ST_CLOSING 2

/* Server's private slot state: the machine of src/slot_fsm.h, collapsed.
 * OFFERED here is slot_fsm's UNOFFERED and OFFERED (the model offers in
 * the same step as the reset); ACTIVE is its ACTIVE, LEAVING, DRAINING and
 * LEFT (the model drains a released slot in one step, GOODBYE being just a
 * frame). KICKED follows a lane fault only, which honest peers never cause
 * (asserted below). docs/model.md, "Model step -> code", maps each step. */
#define OFFERED 0
#define ACTIVE 1

mtype = { OK, WOULD_BLOCK, TIMEOUT, CLOSED };

/* ------------------------------------------------------------ kernel state */

/* The semaphore set at the key (layout.h numbering). */
bool set_exists;                 /* IPC_RMID clears it: every semop -> EIDRM */
byte sem_marker;                 /* 0 MARKER (1 stands for 0x5348) */
byte sem_alive;                  /* 1 SERVER_ALIVE (server's SEM_UNDO token) */
byte sem_ready;                  /* 2 READY */
byte sem_swake;                  /* 3 SERVER_WAKE (binary) */
byte sem_owner[NSLOTS];          /* 4+4i OWNER_i (client's SEM_UNDO token) */
byte sem_free[NSLOTS];           /* 5+4i FREE_i (server offers the slot) */
byte sem_rx[NSLOTS];             /* 6+4i RX_i (wakes the client's receiver) */
byte sem_tx[NSLOTS];             /* 7+4i TX_i (wakes the client's sender) */

/* The segment at the key. Attached processes keep their mapping after
 * IPC_RMID; only connecting clients look at seg_exists. */
bool seg_exists;
bool seg_magic;                  /* header magic, published last */
byte srv_state_word;             /* header server-state word */

/* Lane control blocks (lane.h) and rings. */
byte head[NLANES];               /* written by the producer only */
byte tail[NLANES];               /* written by the consumer only */
bit cwait[NLANES];               /* consumer_waiting */
bit pwait[NLANES];               /* producer_waiting */
byte ring_a[NLANES * CAP];       /* frame header part */
byte ring_b[NLANES * CAP];       /* frame payload part */

/* ------------------------------------------------------------ ghosts */

byte holder[NSLOTS];      /* live client (1..NCLIENTS) holding OWNER_i, or 0 */
bit hpend[NLANES];        /* producer published head and has not yet read the
                           * consumer's flag / posted its wake */
bit tpend[NLANES];        /* consumer published tail; same for the producer */
bit cpend[NSLOTS];        /* claim or release of slot i whose SERVER_WAKE post
                           * is still to come, or the holder died (then the
                           * server's periodic scan notices, by design) */
bit reoffer_due[NSLOTS];  /* OWNER_i went back to 0; not offered again since */
bool srv_gone;            /* server dead, closed, or its set removed */
bool srv_dead;            /* the server process has exited */
#if WITNESS == 2
bit used_before[NSLOTS];
#endif

/* ------------------------------------------------------------ primitives */

/* A crash point: before a write to shared state. */
#define CP if :: may_crash -> goto crashed :: true fi

/* shmchan_wake_wait -> shmchan_sys_semop: semtimedop {sem -1} with a
 * timeout. Blocks while the value is 0; a post completes it (the kernel
 * performs the sleeper's -1 on its behalf); the timeout may expire at any
 * moment while the value is 0; IPC_RMID fails it at once (EIDRM); the
 * sleeper may be killed while it sleeps. `notlost` is the no-lost-wakeup
 * assertion, checked when the timeout wins. */
inline sem_wait(v, res, notlost)
{
	if
	:: d_step { set_exists && v > 0 -> v--; res = OK }
	:: d_step { set_exists && v == 0 ->
		assert(notlost);
		dead_at_wake = (sem_alive == 0);
		res = TIMEOUT }
	:: d_step { !set_exists -> res = CLOSED }
	:: may_crash -> goto crashed
	fi
}

/* shmchan_wake_post: one semop {sem == 0 NOWAIT, sem +1}; EAGAIN (it is
 * already 1) counts as success. `pend` is the ghost "post owed" it pays. */
inline sem_post(v, res, pend)
{
	CP;
	d_step {
		if
		:: !set_exists -> res = CLOSED
		:: else ->
			if
			:: v == 0 -> v = 1
			:: else -> skip
			fi;
			res = OK
		fi;
		pend = 0
	}
}

/* The same, result ignored ((void)shmchan_wake_post). */
inline sem_post_void(v, pend)
{
	CP;
	d_step {
		if
		:: set_exists && v == 0 -> v = 1
		:: else -> skip
		fi;
		pend = 0
	}
}

/* shmchan_lane_try_send: if the cached tail (peer) says full, one acquire
 * load of tail (a fill level over the capacity would fault the lane) and
 * WOULD_BLOCK if still full; write the frame, then release-store head.
 * hpend: from that store until the caller's needs_wake decision. */
inline lane_try_send(L, pos, seq, peer, ftype, res)
{
	if
	:: (pos + IDX - peer) % IDX < CAP -> res = OK      /* cached tail: room */
	:: else ->
		d_step {                     /* producer_refresh */
			t_used = (pos + IDX - tail[L]) % IDX;
			assert(t_used <= CAP);   /* lane fault: impossible between honest peers */
			peer = tail[L];
			res = (t_used < CAP -> OK : WOULD_BLOCK);
			t_used = 0
		}
	fi;
	if
	:: res == OK ->
		assert(seq < 8);
#ifdef MUT_PUBLISH_BEFORE_WRITE
		CP;
		d_step { head[L] = (pos + 1) % IDX; hpend[L] = 1 };
#endif
		CP;
		ring_a[RING(L, pos)] = FRAME(seq, ftype);
		CP;
		d_step {
			if
			:: ftype == T_DATA -> ring_b[RING(L, pos)] = FRAME(seq, ftype)
			:: else -> skip
			fi;
			pos = (pos + 1) % IDX;
			seq++
		};
#ifndef MUT_PUBLISH_BEFORE_WRITE
		CP;
		d_step { head[L] = pos; hpend[L] = 1 }
#endif
	:: else -> skip
	fi
}

/* shmchan_lane_try_recv: if the cached head (peer) says empty, one acquire
 * load of head (a fill level over the capacity faults: FRAME_TRUNCATED);
 * copy header and payload out, parse, CRC, sequence, then release-store
 * tail. Each check of the C code is an assertion: honest peers never fault
 * a lane. */
inline lane_try_recv(L, pos, seq, peer, res, ftype)
{
	if
	:: peer != pos -> res = OK                        /* cached head: data */
	:: else ->
		d_step {
			t_avail = (head[L] + IDX - pos) % IDX;
			assert(t_avail <= CAP);
			peer = head[L];
			res = (t_avail == 0 -> WOULD_BLOCK : OK);
			t_avail = 0
		}
	fi;
	if
	:: res == OK ->
		d_step {
			t_a = ring_a[RING(L, pos)];
			t_b = (FTYPE(t_a) == T_DATA -> ring_b[RING(L, pos)] : t_a);
			assert(FVALID(t_a));           /* codec_parse_header: a whole frame */
			assert(t_b == t_a);            /* codec_checksum: not torn */
			assert(FSEQ(t_a) == seq % 8);  /* exactly once, in order */
			ftype = FTYPE(t_a);
			t_a = 0;
			t_b = 0
		};
		CP;
		d_step {
			ring_a[RING(L, pos)] = 0;      /* ghost canonicalisation */
			ring_b[RING(L, pos)] = 0;
			pos = (pos + 1) % IDX;
			seq++;
			tail[L] = pos;
			tpend[L] = 1
		}
	:: else -> skip
	fi
}

/* shmchan_lane_consumer_needs_wake (full fence, read the flag) and the
 * caller's post, on the producer side. */
inline wake_consumer(L, SEM)
{
	if
	:: d_step { cwait[L] == 0 -> hpend[L] = 0 }
	:: cwait[L] != 0 -> sem_post_void(SEM, hpend[L])
	fi
}

/* shmchan_lane_producer_needs_wake and the post, on the consumer side. */
inline wake_producer(L, SEM)
{
	if
	:: d_step { pwait[L] == 0 -> tpend[L] = 0 }
	:: pwait[L] != 0 -> sem_post_void(SEM, tpend[L])
	fi
}

/* No-lost-wakeup conditions, checked when a sleeper's timeout wins: what it
 * waits for has not happened yet, or its post is still owed. */
#define DATA_NOT_LOST(L, pos) (head[L] == (pos) || hpend[L])
#define ROOM_NOT_LOST(L, pos) (((pos) + IDX - tail[L]) % IDX == CAP || tpend[L])

/* ------------------------------------------------------------ server */

/* slot_reset: zero both lanes' control words, re-bind the private lane
 * state, generation++ (the model also zeroes the rings: see the top).
 * Runs only while OWNER_i == 0 and FREE_i == 0: nobody else touches these
 * words, so one step loses nothing. */
inline slot_reset(s)
{
	CP;
	d_step {
		head[C2S(s)] = 0; tail[C2S(s)] = 0; cwait[C2S(s)] = 0; pwait[C2S(s)] = 0;
		head[S2C(s)] = 0; tail[S2C(s)] = 0; cwait[S2C(s)] = 0; pwait[S2C(s)] = 0;
		hpend[C2S(s)] = 0; tpend[C2S(s)] = 0; hpend[S2C(s)] = 0; tpend[S2C(s)] = 0;
		ring_a[RING(C2S(s), 0)] = 0; ring_a[RING(C2S(s), 1)] = 0;
		ring_b[RING(C2S(s), 0)] = 0; ring_b[RING(C2S(s), 1)] = 0;
		ring_a[RING(S2C(s), 0)] = 0; ring_a[RING(S2C(s), 1)] = 0;
		ring_b[RING(S2C(s), 0)] = 0; ring_b[RING(S2C(s), 1)] = 0;
		rxpos[s] = 0; rxseq[s] = 0; txpos[s] = 0; txseq[s] = 0;
		rxpeer[s] = 0; txpeer[s] = 0
	}
}

/* slot_offer: semop {FREE_i +1}. The assertion is the invariant that makes
 * the claim's {OWNER_i == 0} test redundant between honest processes. */
inline slot_offer(s, res)
{
	CP;
	d_step {
		if
		:: set_exists ->
			assert(sem_free[s] == 0 && sem_owner[s] == 0);
			sem_free[s] = 1;
			sstate[s] = OFFERED;
			reoffer_due[s] = 0;
			res = OK
		:: else -> res = CLOSED
		fi
	}
}

/* slot_poll: frames from slot s's c2s lane; a GOODBYE is skipped. got = 1
 * when a DATA message is returned. */
inline slot_poll(s)
{
	got = 0;
	do
	:: lane_try_recv(C2S(s), rxpos[s], rxseq[s], rxpeer[s], r, ftype);
		if
		:: r == WOULD_BLOCK -> break
		:: r == OK ->
			wake_producer(C2S(s), sem_tx[s]);
			if
			:: ftype == T_GOODBYE -> ftype = 0       /* said_goodbye */
			:: else -> ftype = 0; got = 1; break
			fi
		fi
	od
}

/* arm_and_recheck(srv, waiting), the flag stores: one step (nothing reads
 * between them that the code orders). */
inline arm(waiting)
{
	CP;
	d_step {
		if
		:: sstate[0] == ACTIVE -> cwait[C2S(0)] = waiting
		:: else -> skip
		fi;
#if NSLOTS > 1
		if
		:: sstate[1] == ACTIVE -> cwait[C2S(1)] = waiting
		:: else -> skip
		fi
#endif
	}
}

/* scan_slots for slot s, from the GETALL snapshot; an event returns from
 * shmchan_server_wait (through sw_done). */
inline scan_slot(s)
{
	if
	:: sstate[s] == OFFERED && snap_free[s] == 0 ->
		sstate[s] = ACTIVE;                  /* CONNECT */
		scan_due = 1;
		goto sw_done
	:: sstate[s] == ACTIVE && snap_owner[s] == 0 ->
#ifdef MUT_REOFFER_BEFORE_DRAIN
		slot_offer(s, r);
		if
		:: r != OK -> goto sw_done
		:: else -> skip
		fi;
#endif
		slot_poll(s);                        /* deliver what it published */
		if
		:: got ->
#if WITNESS == 1
			assert(false);                   /* W1: a departed client's message drained */
#endif
			got = 0; scan_due = 1; goto sw_done
		:: else -> skip
		fi;
		/* drained: the reset never discards a committed frame */
		assert(head[C2S(s)] == rxpos[s]);
		slot_reset(s);
#ifndef MUT_REOFFER_BEFORE_DRAIN
		slot_offer(s, r);
		if
		:: r != OK -> goto sw_done
		:: else -> skip
		fi;
#endif
		scan_due = 1;                        /* DISCONNECT */
		goto sw_done
	:: else -> skip
	fi
}

/* poll_all for one slot. */
inline poll_slot(s)
{
	if
	:: sstate[s] == ACTIVE ->
		slot_poll(s);
		if
		:: got -> got = 0; next_slot = ((s) + 1) % NSLOTS; goto sw_done
		:: else -> skip
		fi
	:: else -> skip
	fi
}

/* poll_all: round-robin from next_slot; returns through sw_done on a message. */
inline poll_all()
{
#if NSLOTS == 1
	poll_slot(0);
#else
	if
	:: next_slot == 0 -> poll_slot(0); poll_slot(1)
	:: next_slot == 1 -> poll_slot(1); poll_slot(0)
	fi;
#endif
	skip
}

/* scan_now: scan_due = 0, next_scan = now + period, scan_slots (one GETALL,
 * then the first slot that changed; returns through sw_done on an event);
 * a removed set marks the server closed. A scan also pays any wake the
 * server owes itself a look for (woke: srv->wake_unscanned). */
inline scan_now()
{
	d_step {
		scan_due = 0;
		timed_out = 0;
#ifndef MUT_LOCAL_WOKE
		woke = 0;
#endif
		if
		:: set_exists ->
			snap_owner[0] = sem_owner[0]; snap_free[0] = sem_free[0];
#if NSLOTS > 1
			snap_owner[1] = sem_owner[1]; snap_free[1] = sem_free[1];
#endif
			r = OK
		:: else -> r = CLOSED
		fi
	};
	if
	:: r == CLOSED -> closed = 1; srv_gone = 1; goto sw_done
	:: else -> r = 0
	fi;
	scan_slot(0);
#if NSLOTS > 1
	scan_slot(1);
#endif
	skip
}

/* The server's no-lost-wakeup condition, when its sleep in
 * shmchan_server_wait times out: no unread data on an armed lane unless its
 * post is still owed (SRV_DATA_OK); and no
 * claim or release left unnoticed although its SERVER_WAKE post was made
 * (SRV_EVENT_OK; a dead client posts nothing: the periodic scan finds it). */
#define SRV_SLOT_DATA_OK(s) (sstate[s] != ACTIVE || DATA_NOT_LOST(C2S(s), rxpos[s]))
#define SRV_SLOT_EVENT_OK(s) \
	((!(sstate[s] == OFFERED && sem_free[s] == 0) || cpend[s]) && \
	 (!(sstate[s] == ACTIVE && sem_owner[s] == 0) || cpend[s]))
#if NSLOTS == 1
#define SRV_DATA_OK SRV_SLOT_DATA_OK(0)
#define SRV_EVENT_OK SRV_SLOT_EVENT_OK(0)
#else
#define SRV_DATA_OK (SRV_SLOT_DATA_OK(0) && SRV_SLOT_DATA_OK(1))
#define SRV_EVENT_OK (SRV_SLOT_EVENT_OK(0) && SRV_SLOT_EVENT_OK(1))
#endif
#define SRV_NOT_LOST (SRV_DATA_OK && SRV_EVENT_OK)

/* One call of shmchan_server_wait, up to the event it returns, or to its
 * deadline (back to the application's loop). */
inline server_wait()
{
	skip;
	/* fast path: !scan_due && (++fast_calls & 63) != 0 -> poll_all first
	 * (the counter is abstracted: any call may take either way) */
	if
	:: !scan_due -> poll_all()
	:: skip
	fi;
#ifdef MUT_LOCAL_WOKE
	woke = 0;                                /* int woke = 0: local to the call */
#endif
sw_loop:
	/* scan_due || now >= next_scan: the period may have elapsed at any
	 * time; after a timeout it has (a sleep lasts up to the period). */
#ifndef MUT_NO_PERIODIC_SCAN
	if
	:: scan_due || timed_out -> skip
	:: else -> if :: skip :: goto sw_noscan fi
	fi;
#else
	if
	:: scan_due -> skip
	:: else -> if :: skip :: goto sw_noscan fi
	fi;
#endif
	scan_now();
sw_noscan:
	poll_all();
	if
	:: woke -> woke = 0; scan_now()          /* woken, no data: a connect or a release */
	:: else -> skip
	fi;
	/* arm_and_recheck(srv, 1): flags, full fence, look again */
	arm(1);
#ifndef MUT_NO_RECHECK
	if
	:: sstate[0] == ACTIVE && head[C2S(0)] != rxpos[0] -> arm(0); goto sw_loop
	:: else -> skip
	fi;
#if NSLOTS > 1
	if
	:: sstate[1] == ACTIVE && head[C2S(1)] != rxpos[1] -> arm(0); goto sw_loop
	:: else -> skip
	fi;
#endif
#endif
	/* shmchan_next_sleep_ns(deadline) <= 0: TIMEOUT to the application */
	if
	:: arm(0); timed_out = 1; goto sw_done
	:: skip
	fi;
	sem_wait(sem_swake, r, SRV_NOT_LOST);
	dead_at_wake = 0;
#if WITNESS == 6
	assert(!(r == OK && sstate[0] == OFFERED && sem_free[0] == 0));  /* W6: woken by a claim */
#endif
	arm(0);
	if
	:: r == OK -> woke = 1
	:: r == CLOSED -> closed = 1; srv_gone = 1; goto sw_done
	:: r == TIMEOUT -> timed_out = 1
	fi;
	goto sw_loop;
sw_done:
	skip;
	d_step {
#ifdef MUT_LOCAL_WOKE
		woke = 0;                            /* ... and gone when the call returns */
#endif
		r = 0;
		snap_owner[0] = 0; snap_free[0] = 0;
#if NSLOTS > 1
		snap_owner[1] = 0; snap_free[1] = 0;
#endif
		got = 0
	}
}

/* One call of shmchan_server_send(client c, DATA). */
inline server_send(c)
{
	skip;
ss_loop:
	skip;
	lane_try_send(S2C(c), txpos[c], txseq[c], txpeer[c], T_DATA, r);
	if
	:: r == OK -> wake_consumer(S2C(c), sem_rx[c]); goto ss_done
	:: else -> skip
	fi;
	/* full: is the client still there to make room? (GETVAL OWNER_i) */
	if
	:: d_step { !set_exists -> r = CLOSED }; goto ss_done
	:: d_step { set_exists && sem_owner[c] == 0 -> r = CLOSED }; scan_due = 1; goto ss_done
	:: d_step { set_exists && sem_owner[c] != 0 -> skip }
	fi;
	CP;
	pwait[S2C(c)] = 1;
	if
	:: (txpos[c] + IDX - tail[S2C(c)]) % IDX < CAP -> CP; pwait[S2C(c)] = 0; goto ss_loop
	:: else -> skip
	fi;
	if
	:: CP; pwait[S2C(c)] = 0; goto ss_done        /* TIMEOUT */
	:: sleeps < SLEEPS -> skip
	fi;
	sem_wait(sem_swake, r, ROOM_NOT_LOST(S2C(c), txpos[c]));
	dead_at_wake = 0;
#if WITNESS == 8
	assert(!(r == OK && (txpos[c] + IDX - tail[S2C(c)]) % IDX < CAP));  /* W8: server_send woken, room made */
#endif
	CP;
	pwait[S2C(c)] = 0;
	sleeps++;
	scan_due = 1;          /* the wake may have been meant for server_wait */
	if
	:: r == CLOSED -> closed = 1; srv_gone = 1; goto ss_done
	:: else -> goto ss_loop
	fi;
ss_done:
	skip;
	sleeps = 0;
	r = 0
}

proctype Server()
{
	byte r, got, ftype, sleeps, sends, next_slot;
	byte t_avail, t_a, t_b, t_used;
	byte sstate[NSLOTS];
	byte rxpos[NSLOTS], rxseq[NSLOTS], txpos[NSLOTS], txseq[NSLOTS];
	byte rxpeer[NSLOTS], txpeer[NSLOTS];
	byte snap_owner[NSLOTS], snap_free[NSLOTS];
	bit holds_alive, scan_due, closed, timed_out, dead_at_wake, woke;
	bit may_crash = ((CRASHERS & 1) != 0);

	/* ---- server_build ---- */
	CP;
	set_exists = 1;                          /* semget(IPC_CREAT|IPC_EXCL) */
	CP;
#ifndef MUT_SPLIT_FIRST_SEMOP
	d_step {                                 /* first semop: MARKER, ALIVE +1 SEM_UNDO */
		if
		:: set_exists -> sem_marker = 1; sem_alive = 1; holds_alive = 1; r = OK
		:: else -> r = CLOSED
		fi
	};
#else
	d_step {                                 /* mutant: MARKER alone first */
		if
		:: set_exists -> sem_marker = 1; r = OK
		:: else -> r = CLOSED
		fi
	};
	if
	:: r != OK -> goto teardown
	:: else -> skip
	fi;
	CP;
	d_step {                                 /* ... then ALIVE +1 SEM_UNDO */
		if
		:: set_exists -> sem_alive = 1; holds_alive = 1; r = OK
		:: else -> r = CLOSED
		fi
	};
#endif
	if
	:: r != OK -> goto teardown
	:: else -> skip
	fi;
	CP;
	seg_exists = 1;                          /* shmget(EXCL), shmat, IPC_STAT, header w/o magic */
	slot_reset(0);
#if NSLOTS > 1
	slot_reset(1);
#endif
	CP;
	seg_magic = 1;                           /* shmchan_layout_publish_magic */
	CP;
	srv_state_word = ST_READY;
	slot_offer(0, r);
	if
	:: r != OK -> goto teardown
	:: else -> skip
	fi;
#if NSLOTS > 1
	slot_offer(1, r);
	if
	:: r != OK -> goto teardown
	:: else -> skip
	fi;
#endif
	CP;
	d_step {                                 /* READY last */
		if
		:: set_exists -> sem_ready = 1; r = OK
		:: else -> r = CLOSED
		fi
	};
	if
	:: r != OK -> goto teardown
	:: else -> r = 0
	fi;
	scan_due = 1;

	/* ---- the application's loop ---- */
	do
	:: closed -> goto close                  /* every call returns CLOSED now */
	:: !closed -> server_wait()
	:: !closed && sends < S2C_MSGS && sstate[0] == ACTIVE -> sends++; server_send(0)
#if NSLOTS > 1
	:: !closed && sends < S2C_MSGS && sstate[1] == ACTIVE -> sends++; server_send(1)
#endif
#if MAYCLOSE
	:: !closed -> goto close
#endif
	od;

	/* ---- shmchan_server_close ---- */
close:
	skip;
	if
	:: !closed ->
		CP;
		srv_state_word = ST_CLOSING;
		if
		:: sstate[0] == ACTIVE ->
			lane_try_send(S2C(0), txpos[0], txseq[0], txpeer[0], T_GOODBYE, r);
			sem_post_void(sem_rx[0], hpend[S2C(0)])
		:: else -> skip
		fi;
#if NSLOTS > 1
		if
		:: sstate[1] == ACTIVE ->
			lane_try_send(S2C(1), txpos[1], txseq[1], txpeer[1], T_GOODBYE, r);
			sem_post_void(sem_rx[1], hpend[S2C(1)])
		:: else -> skip
		fi;
#endif
	:: else -> skip
	fi;
	closed = 1;
teardown:
	skip;
	CP;
	d_step { set_exists = 0; srv_gone = 1 };     /* semctl(IPC_RMID) */
	CP;
	seg_exists = 0;                              /* shmctl(IPC_RMID) */
	goto finish;

crashed:
	skip;
	d_step {                                     /* exit: SEM_UNDO */
		if
		:: set_exists && holds_alive -> sem_alive = 0
		:: else -> skip
		fi;
		srv_gone = 1;
		srv_dead = 1
	};
finish:
	skip;
	d_step {                                     /* canonical end state */
		srv_dead = 1;
		r = 0; got = 0; ftype = 0; sleeps = 0; sends = 0; next_slot = 0;
		sstate[0] = 0; rxpos[0] = 0; rxseq[0] = 0; txpos[0] = 0; txseq[0] = 0;
		rxpeer[0] = 0; txpeer[0] = 0;
#if NSLOTS > 1
		sstate[1] = 0; rxpos[1] = 0; rxseq[1] = 0; txpos[1] = 0; txseq[1] = 0;
		rxpeer[1] = 0; txpeer[1] = 0;
#endif
		holds_alive = 0; scan_due = 0; closed = 0; timed_out = 0; woke = 0; may_crash = 0
	}
}

/* ------------------------------------------------------------ client */

/* peer_state: our own closed flag, then the header's server-state word. */
inline peer_state(res)
{
	if
	:: closed -> res = CLOSED
	:: else -> res = (srv_state_word != ST_READY -> CLOSED : OK)
	fi
}

/* after_sleep: CLOSED (EIDRM) ends the call; after a timeout, ask the
 * kernel whether the server's token is still held (shmchan_client_check);
 * after a wake, look at the state word. */
inline after_sleep(w, res)
{
	if
	:: w == CLOSED -> closed = 1; res = CLOSED
	:: w == OK -> peer_state(res)
	:: w == TIMEOUT ->
		peer_state(res);
		if
		:: res == OK ->
			d_step {                         /* server_alive: GETVAL SERVER_ALIVE */
#if WITNESS == 5
				assert(!(set_exists && sem_alive == 0));   /* W5: a dead server found after a timeout */
#endif
				res = ((!set_exists || sem_alive == 0) -> CLOSED : OK)
			};
			if
			:: res == CLOSED -> closed = 1
			:: else -> skip
			fi
		:: else -> skip
		fi
	fi;
	w = 0
}

/* shmchan_client_send(DATA) */
inline client_send()
{
	peer_state(r);
	if
	:: r != OK -> goto cs_done
	:: else -> skip
	fi;
cs_loop:
	skip;
	lane_try_send(C2S(slot), tpos, tseq, tpeer, T_DATA, r);
	if
	:: r == OK -> wake_consumer(C2S(slot), sem_swake); goto cs_done
	:: else -> skip
	fi;
	CP;
	pwait[C2S(slot)] = 1;
	if
	:: (tpos + IDX - tail[C2S(slot)]) % IDX < CAP -> CP; pwait[C2S(slot)] = 0; goto cs_loop
	:: else -> skip
	fi;
	if
	:: CP; pwait[C2S(slot)] = 0; goto cs_done      /* TIMEOUT */
	:: sleeps < SLEEPS -> skip
	fi;
	/* detection within one period: a server that was already dead when
	 * our previous sleep timed out was reported instead of slept on */
	assert(!dead_at_wake);
	sem_wait(sem_tx[slot], w, ROOM_NOT_LOST(C2S(slot), tpos));
#if WITNESS == 4
	assert(!(w == OK && (tpos + IDX - tail[C2S(slot)]) % IDX < CAP));  /* W4: sender woken, room made */
#endif
	CP;
	pwait[C2S(slot)] = 0;
	sleeps++;
	after_sleep(w, r);
	if
	:: r != OK -> goto cs_done
	:: else -> goto cs_loop
	fi;
cs_done:
	skip;
	d_step { sleeps = 0; dead_at_wake = 0; r = 0 }
}

/* shmchan_client_recv */
inline client_recv()
{
	skip;
cr_loop:
	skip;
	if
	:: closed -> goto cr_done
	:: else -> skip
	fi;
	lane_try_recv(S2C(slot), rpos, rseq, rpeer, r, ftype);
	if
	:: r == OK ->
		wake_producer(S2C(slot), sem_swake);
		if
		:: ftype == T_GOODBYE -> closed = 1   /* CLOSED */
		:: else -> skip                       /* a message */
		fi;
		goto cr_done
	:: else -> skip
	fi;
	/* empty: queued messages come before a close is reported */
	peer_state(r);
	if
	:: r != OK -> goto cr_done
	:: else -> skip
	fi;
	CP;
	cwait[S2C(slot)] = 1;
#ifndef MUT_NO_RECHECK
	if
	:: head[S2C(slot)] != rpos -> CP; cwait[S2C(slot)] = 0; goto cr_loop
	:: else -> skip
	fi;
#endif
	if
	:: CP; cwait[S2C(slot)] = 0; goto cr_done      /* TIMEOUT */
	:: sleeps < SLEEPS -> skip
	fi;
	assert(!dead_at_wake);
#ifndef MUT_UNBOUNDED_WAIT
	sem_wait(sem_rx[slot], w, DATA_NOT_LOST(S2C(slot), rpos));
#if WITNESS == 3
	assert(!(w == OK && head[S2C(slot)] != rpos));   /* W3: receiver woken, data there */
#endif
#else
	if                                   /* semop without a timeout */
	:: d_step { set_exists && sem_rx[slot] > 0 -> sem_rx[slot]--; w = OK }
	:: d_step { !set_exists -> w = CLOSED }
	:: may_crash -> goto crashed
	fi;
#endif
	CP;
	cwait[S2C(slot)] = 0;
	sleeps++;
	after_sleep(w, r);
	if
	:: r != OK -> goto cr_done
	:: else -> goto cr_loop
	fi;
cr_done:
	skip;
	d_step { sleeps = 0; dead_at_wake = 0; r = 0; ftype = 0 }
}

#ifdef MUT_NO_OWNER_TEST
#define OWNER_TEST(s) true
#else
#define OWNER_TEST(s) (sem_owner[s] == 0)
#endif

#define LANES_RESET(s) \
	(head[C2S(s)] == 0 && tail[C2S(s)] == 0 && cwait[C2S(s)] == 0 && pwait[C2S(s)] == 0 && \
	 head[S2C(s)] == 0 && tail[S2C(s)] == 0 && cwait[S2C(s)] == 0 && pwait[S2C(s)] == 0)

/* claim_slot, one slot: semop {OWNER_i == 0 NOWAIT, FREE_i -1 NOWAIT,
 * OWNER_i +1 SEM_UNDO|NOWAIT}, all or nothing; then lane_init twice. */
inline claim(s)
{
	CP;
	d_step {
		if
		:: !set_exists -> r = CLOSED
		:: set_exists && OWNER_TEST(s) && sem_free[s] > 0 ->
			sem_free[s]--;
			sem_owner[s]++;
			holds = 1;
			slot = s;
			assert(holder[s] == 0);     /* never two live owners */
			holder[s] = id;
			assert(LANES_RESET(s));     /* offered only once drained and reset */
#if WITNESS == 2
			assert(!used_before[s]);    /* W2: a slot claimed again after reuse */
			used_before[s] = 1;
#endif
#if WITNESS == 7
			assert(attempts < 2);       /* W7: claimed on the second attempt */
#endif
			cpend[s] = 1;
			tpos = 0; tseq = 0; rpos = 0; rseq = 0; tpeer = 0; rpeer = 0;
			r = OK
		:: else -> r = WOULD_BLOCK
		fi
	}
}

proctype Client(byte id)
{
	byte slot, r, w, ftype, nsent, nrecv, attempts, sleeps;
	byte tpos, tseq, rpos, rseq, tpeer, rpeer;
	byte t_avail, t_a, t_b, t_used;
	bit holds, closed, dead_at_wake;
	bit may_crash = (((CRASHERS >> id) & 1) != 0);

	skip;
connect:
	skip;
	/* ---- client_build ---- */
	attempts++;
	if
	:: !set_exists -> goto finish        /* semget(key, 0, 0): ENOENT */
	:: else -> skip                      /* IPC_STAT checks: honest objects */
	fi;
	/* wait_ready: semtimedop {READY -1, READY +1} within the connect timeout.
	 * On success the client then reads MARKER, ALIVE and the segment header;
	 * those reads are merged into the same step: after READY each of them
	 * can only go from "good" to "gone" (IPC_RMID, death), so reading them
	 * at one instant yields the same outcomes as reading them in turn. */
	if
	:: d_step { set_exists && sem_ready > 0 ->
		assert(sem_marker == 1);           /* GETVAL MARKER: READY implies marked */
		if
		:: sem_alive == 0 -> r = CLOSED    /* server_alive: stale channel */
		:: !seg_exists -> r = CLOSED       /* attach_and_validate: shmget ENOENT */
		:: else -> assert(seg_magic);      /* READY implies a complete header */
			r = OK
		fi }
	:: d_step { set_exists && sem_ready == 0 -> r = TIMEOUT }
	:: d_step { !set_exists -> r = CLOSED }
	:: may_crash -> goto crashed
	fi;
	if
	:: r != OK -> goto finish
	:: else -> skip
	fi;
	/* claim_slot: the first slot offered */
	claim(0);
#if NSLOTS > 1
	if
	:: r == WOULD_BLOCK -> claim(1)
	:: else -> skip
	fi;
#endif
	if
	:: r == WOULD_BLOCK && attempts < ATTEMPTS -> r = 0; goto connect   /* NO_SLOT */
	:: r == WOULD_BLOCK && attempts >= ATTEMPTS -> goto finish
	:: r == CLOSED -> goto finish
	:: r == OK -> skip
	fi;
	/* tell the server; GUARD: on failure client_free releases the slot */
	sem_post(sem_swake, r, cpend[slot]);
	if
	:: r != OK -> goto release
	:: else -> r = 0
	fi;

	/* ---- the application's session ---- */
	do
	:: nsent < C2S_MSGS -> nsent++; client_send()
	:: nrecv < RECVS -> nrecv++; client_recv()
	:: break
	od;

	/* ---- shmchan_client_disconnect ---- */
	peer_state(r);
	if
	:: r == OK ->                        /* best-effort GOODBYE, never blocks */
		lane_try_send(C2S(slot), tpos, tseq, tpeer, T_GOODBYE, r);
		if
		:: r == OK -> sem_post_void(sem_swake, hpend[C2S(slot)])
		:: else -> skip
		fi
	:: else -> skip
	fi;
release:
	skip;
	/* release_slot: {OWNER_i -1, SEM_UNDO|NOWAIT} cancels the undo entry */
	CP;
	d_step {
		if
		:: set_exists ->
			sem_owner[slot]--;
			cpend[slot] = 1;
			reoffer_due[slot] = 1
		:: else -> skip
		fi;
		holds = 0;
		holder[slot] = 0
	};
	sem_post_void(sem_swake, cpend[slot]);
	goto finish;

crashed:
	skip;
	d_step {                             /* exit: SEM_UNDO gives OWNER_i back */
		if
		:: holds && set_exists ->
			sem_owner[slot]--;
			cpend[slot] = 1;             /* noticed by the periodic scan */
			reoffer_due[slot] = 1
		:: else -> skip
		fi;
		if
		:: holds -> holder[slot] = 0
		:: else -> skip
		fi
	};
finish:
	skip;
	d_step {                             /* canonical end state */
		slot = 0; r = 0; w = 0; ftype = 0; nsent = 0; nrecv = 0; attempts = 0;
		sleeps = 0; tpos = 0; tseq = 0; rpos = 0; rseq = 0; tpeer = 0; rpeer = 0;
		holds = 0; closed = 0; dead_at_wake = 0; may_crash = 0
	}
}

#if MAYRMID == 1
/* Someone removes the set from outside, at any moment (ipcrm -s, systemd
 * RemoveIPC=yes). */
proctype Remover()
{
end_idle:
	d_step { set_exists -> set_exists = 0; srv_gone = 1 }
}
#elif MAYRMID == 2
/* A second server starting at the same key: shmchan_probe_gather reads the
 * set (sem_otime != 0 <=> the first semop happened <=> MARKER set, here),
 * shmchan_probe_judge says STALE only for a marked set whose liveness token
 * is 0, and shmchan_probe_reclaim re-reads the token before IPC_RMID. It
 * must never remove the set of a live server. (Its own new channel is not
 * modelled: the old clients only see the old set go away.) */
proctype Remover()
{
end_idle:
	d_step { set_exists && sem_marker == 1 && sem_alive == 0 -> skip };   /* judge: STALE */
	d_step {                                                              /* reclaim */
		if
		:: set_exists && sem_alive == 0 ->
			assert(srv_dead);          /* never a live server's set */
			set_exists = 0;
			srv_gone = 1
		:: else -> skip
		fi
	}
}
#endif

init
{
	atomic {
		run Server();
		run Client(1);
#if NCLIENTS > 1
		run Client(2);
#endif
#if NCLIENTS > 2
		run Client(3);
#endif
#if MAYRMID
		run Remover();
#endif
	}
}

/* ------------------------------------------------------------ liveness */

#ifdef LTL_REOFFER
/* A slot whose holder released it or died is offered again, unless the
 * server itself is gone. */
#if NSLOTS == 1
ltl reoffer { [] (reoffer_due[0] -> <> (!reoffer_due[0] || srv_gone)) }
#else
ltl reoffer { [] ((reoffer_due[0] -> <> (!reoffer_due[0] || srv_gone)) &&
                  (reoffer_due[1] -> <> (!reoffer_due[1] || srv_gone))) }
#endif
#endif

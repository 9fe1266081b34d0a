/*
 * multiuser.pml - Promela model of the multi-user connect protocol of
 * docs/multiuser.md, as src/server.c (conn_judge_slot, the connected-slot
 * scan) and src/client.c (the connect, server_alive_multiuser) implement
 * it; the judge's order is src/conn.c's shmchan_conn_judge. Single-user
 * channels keep the protocol of shmchan.pml.
 *
 * What it is for: the server learns each connection from objects a client
 * created and gave it, and takes them after several separate system calls
 * (semget, IPC_STAT of the set, GETVAL/GETPID of the token, shmget, IPC_STAT
 * of the segment, shmat, SETVAL of the verdict). Between any two of them
 * other processes run: a client dies, a hostile but allowed client removes
 * its objects and someone else re-creates objects at the same key, the
 * doorbell is rung or robbed. The model checks that, whatever the order:
 *
 *   IDENTITY  a connection the server accepts is one process's set and
 *             segment, both given to the server, created by a uid that
 *             may connect, and the server reports that uid;
 *   NO LIVE REMOVAL  the server removes a connection's objects only once
 *             its client's token is down (the kernel's undo, or a release);
 *   NO LOST HELLO  the server never goes to sleep with the doorbell's
 *             HELLO clear while a client's hello was posted and its slot not
 *             judged since - unless a hostile client robbed the doorbell
 *             (the bounded cost written in the threat model: the next
 *             periodic scan judges it);
 *   NO LEFTOVER HELD  when every process has ended, every object left has
 *             its token down (a leftover that `clean --stale` can judge);
 *   NO DEAD KEY HELD  a connection given to the server whose token the
 *             server found down is removed by that judgement, whoever made
 *             it: never refused (a refused client that died would otherwise
 *             hold its key for good - found by review of the code, which
 *             then judged the uid first);
 *   NO ADOPTION  (with RESTART: the server may be killed at any step and a
 *             second one started) a connection is accepted by one server
 *             at most: a verdict already in is left alone (JUDGED), so a
 *             restarted server never answers a client that asked the dead
 *             one, in lanes it is using (found by review of the code);
 *   NO FALSE DEATH  an accepted client concludes that its server is dead
 *             (the server's token on its own set down, or the set gone)
 *             only when the server that accepted it has died or closed:
 *             the server takes its token before it writes the verdict.
 *
 * Kernel objects are named by id; an id is (key, generation): an object
 * removed and created again at the same key is another object, and every
 * operation by the old id fails (EIDRM/EINVAL) - mutant MUT_BY_KEY makes
 * the server act on "whatever is at the key" instead.
 *
 * Processes: Server (uid SRV), Alice (an allowed client), Xavier (a
 * client whose uid is not allowed), Mallory (allowed, hostile: makes and
 * removes connections of her own at any moment, rings and robs the
 * doorbell). Permissions are the kernel's (tests/multiuser_kernel_test.c):
 * a client's objects can be touched only by their creator and their owner,
 * so Mallory's moves are on her own objects and on the doorbell only.
 *
 * Witnesses (-DWITNESS=n, each must be reachable: an assertion that fails
 * there): 1 Alice is accepted, 2 Xavier is refused, 3 a dead client's
 * objects are removed as DEAD, 4 a client is accepted after Mallory robbed
 * the doorbell.
 *
 * Mutants (each must be reported; model/model_check_test.sh):
 *   -DMUT_CLEAR_HELLO_LATE  the server clears HELLO after its scan
 *   -DMUT_NO_ALLOW_CHECK    the judge does not look at the creator uid
 *   -DMUT_BY_KEY            the server acts on the object at the key, not
 *                           on the id it judged
 *   -DMUT_REMOVE_UNCHECKED  the server removes a connection it looked at
 *                           without reading the token first
 *   -DMUT_UID_BEFORE_DEAD   the judge refuses a uid before it looks for a
 *                           dead connection (the order before review)
 *   -DMUT_ADOPT             the judge has no JUDGED rule: a restarted
 *                           server takes over a verdict already in
 *   -DMUT_VERDICT_BEFORE_TOKEN  the server writes ACCEPTED before it takes
 *                           its token on the connection
 *
 * Abstracted: the frames (shmchan.pml checks the lanes), the connect and
 * verdict timeouts (a client may give up at any moment), the sweeps of
 * dead connections at start and close (the judge's DEAD rule, which they
 * share, is modelled), and the server's own set and doorbell at restart
 * (the next server starts only after the first has died, as the channel
 * probe requires).
 */

#ifndef NSLOTS
#define NSLOTS 2
#endif
#ifndef ROUNDS
#define ROUNDS 3          /* server wait calls */
#endif
#ifndef MOVES
#define MOVES 2           /* Mallory's moves */
#endif
#ifndef CRASH
#define CRASH 1           /* Alice may die at any crash point */
#endif
#ifndef WITH_XAVIER
#define WITH_XAVIER 1     /* a client whose uid is not allowed */
#endif
#ifndef XAVIER_CRASH
#define XAVIER_CRASH 1    /* Xavier may die at any crash point too */
#endif
#ifndef WITH_MALLORY
#define WITH_MALLORY 1    /* the allowed, hostile client */
#endif
#ifndef RESTART
#define RESTART 0         /* server 1 may die at any step; server 2 follows */
#endif
#define NPROCS (2 + WITH_XAVIER + WITH_MALLORY + RESTART)

#ifndef WITNESS
#define WITNESS 0
#endif

#define SRV 1
#define ALICE 2
#define XAVIER 3
#define MALLORY 4
#define allowed(u) ((u) == SRV || (u) == ALICE || (u) == MALLORY)

#define V_NONE 0
#define V_ACCEPTED 1
#define V_REFUSED 2

/* One key's objects. gen 0: no object; creation takes the next gen. */
typedef obj {
    byte gen;
    byte cuid;
    byte uid;
    byte creator;   /* ghost: the process that created it */
};

obj cset[NSLOTS];
obj cseg[NSLOTS];
byte owner[NSLOTS];      /* the connection set's token */
byte owner_pid[NSLOTS];  /* GETPID of the token */
byte verdict[NSLOTS];
byte nattch[NSLOTS];
byte cpid[NSLOTS];       /* the segment's creator pid */
byte srv_token[NSLOTS];  /* SERVER: the server's token on the connection */
byte next_gen = 1;

bit hello;
bit wake;

/* ghosts */
bit hello_pending[NSLOTS];
bit robbed;
byte ended;
byte acc_by[NSLOTS];     /* the server instance that accepted the set at i */
bit srv_up[3];           /* server instance 1, 2 alive (not dead, not closed) */

#define set_alive(i, g) (cset[i].gen == (g))
#define shm_alive(i, g) (cseg[i].gen == (g))
#ifdef MUT_BY_KEY
#define same_set(i, g) (cset[i].gen != 0)
#define same_shm(i, g) (cseg[i].gen != 0)
#else
#define same_set(i, g) set_alive(i, g)
#define same_shm(i, g) shm_alive(i, g)
#endif

inline remove_set(i) {
    cset[i].gen = 0; owner[i] = 0; verdict[i] = V_NONE; hello_pending[i] = 0;
    srv_token[i] = 0; acc_by[i] = 0
}
inline remove_shm(i) {
    cseg[i].gen = 0
}

/* ------------------------------------------------------------- a client */

/* An honest client of uid `uid`, process `me`: claims the first free key
 * by creating its set there (IPC_EXCL), takes its token, creates its
 * segment, gives both to the server (segment first), posts hello, waits
 * for the verdict (bounded), then disconnects or cleans up. With CRASH,
 * Alice may die before any step: the kernel then takes her token down
 * (SEM_UNDO) and drops her attachment. */
proctype Client(byte me; byte uid; bit may_crash)
{
    byte i = 0;
    byte mine = 255;
    byte my_set, my_shm;   /* the ids (generations) it created */
    bit took = 0;
    bit att = 0;
    byte acc;

#define CP if :: may_crash -> goto crash :: true -> skip fi
/* Operations by id: on an object removed meanwhile they fail (EIDRM). */
#define MYSET (cset[mine].gen == my_set)
#define MYSHM (cseg[mine].gen == my_shm)

    do
    :: i < NSLOTS ->
        atomic {
            if
            :: cset[i].gen == 0 ->
                cset[i].gen = next_gen; my_set = next_gen; next_gen++;
                cset[i].cuid = uid; cset[i].uid = uid; cset[i].creator = me;
                owner[i] = 0; verdict[i] = V_NONE; mine = i
            :: else -> skip
            fi
        }
        if
        :: mine != 255 -> break
        :: else -> i++
        fi
    :: else -> goto done
    od;
    CP;
    atomic { if :: MYSET -> owner[mine] = 1; owner_pid[mine] = me; took = 1 :: else -> skip fi };
    CP;
    atomic {
        if
        :: cseg[mine].gen == 0 ->
            cseg[mine].gen = next_gen; my_shm = next_gen; next_gen++;
            cseg[mine].cuid = uid; cseg[mine].uid = uid; cseg[mine].creator = me;
            cpid[mine] = me; nattch[mine] = 1; att = 1
        :: else -> skip
        fi
    };
    if
    :: !att -> atomic { if :: MYSET -> owner[mine] = 0; remove_set(mine) :: else -> skip fi; took = 0 }; goto done
    :: else -> skip
    fi;
    CP;
    atomic { if :: MYSHM -> cseg[mine].uid = SRV :: else -> skip fi };
    CP;
    atomic { if :: MYSET -> cset[mine].uid = SRV :: else -> skip fi };
    CP;
    atomic { hello = 1; if :: MYSET -> hello_pending[mine] = 1 :: else -> skip fi };
    atomic { wake = 1 };
    CP;
    /* The verdict, or the connect timeout (always possible). */
    if
    :: atomic { MYSET && verdict[mine] == V_ACCEPTED -> acc = acc_by[mine] } ->
        CP;
        /* connected: it leaves when it likes, or when its server is gone -
         * the server's token on its own set down (the kernel's undo), or
         * the set removed (the server's close). NO FALSE DEATH. */
        if
        :: true -> skip
        :: atomic { MYSET && srv_token[mine] == 0 -> assert(!srv_up[acc]) }
        :: atomic { !MYSET -> assert(!srv_up[acc]) }
        fi;
        CP;
        /* disconnect: release the token, detach, ring, then remove what
         * it created (the server, still mapping it, drains first) */
        atomic { if :: MYSET -> owner[mine] = 0; owner_pid[mine] = me :: else -> skip fi; took = 0 };
        atomic { if :: MYSHM -> nattch[mine]-- :: else -> skip fi; att = 0 };
        atomic { wake = 1 };
        CP;
        atomic { if :: MYSHM -> remove_shm(mine) :: else -> skip fi;
                 if :: MYSET -> remove_set(mine) :: else -> skip fi }
    :: MYSET && verdict[mine] == V_REFUSED ->
        atomic { if :: MYSET -> owner[mine] = 0 :: else -> skip fi; took = 0 };
        atomic { if :: MYSHM -> nattch[mine]-- :: else -> skip fi; att = 0 };
        /* the creator removes what it created */
        atomic { if :: MYSHM -> remove_shm(mine) :: else -> skip fi;
                 if :: MYSET -> remove_set(mine) :: else -> skip fi }
    :: true ->
        /* timed out: clean up as creator; the server may be judging it
         * right now, which its id checks survive */
        atomic { if :: MYSET -> owner[mine] = 0 :: else -> skip fi; took = 0 };
        atomic { if :: MYSHM -> nattch[mine]-- :: else -> skip fi; att = 0 };
        atomic { if :: MYSHM -> remove_shm(mine) :: else -> skip fi;
                 if :: MYSET -> remove_set(mine) :: else -> skip fi }
    fi;
    goto done;
crash:
    atomic {
        if :: took && MYSET -> owner[mine] = 0; owner_pid[mine] = me :: else -> skip fi;
        if :: att && MYSHM -> nattch[mine]-- :: else -> skip fi
    };
done:
    atomic { ended++ }
#undef CP
#undef MYSET
#undef MYSHM
}

/* ---------------------------------------------------------------- Mallory */

/* Allowed, hostile: any of these moves, MOVES times, in any order. She can
 * touch only the doorbell and objects she created (the kernel's rules). */
proctype Mallory(byte me)
{
    byte moves = 0;
    byte i;
    do
    :: moves < MOVES ->
        moves++;
        if
        :: hello = 1
        :: wake = 1
        :: atomic { hello = 0; robbed = 1 }
        :: atomic { wake = 0; robbed = 1 }
        :: /* a connection of her own at a free key, well formed, given to us */
            i = 0;
            do
            :: i < NSLOTS ->
                atomic {
                    if
                    :: cset[i].gen == 0 && cseg[i].gen == 0 ->
                        cset[i].gen = next_gen; next_gen++;
                        cset[i].cuid = MALLORY; cset[i].uid = SRV; cset[i].creator = me;
                        owner[i] = 1; owner_pid[i] = me; verdict[i] = V_NONE;
                        cseg[i].gen = next_gen; next_gen++;
                        cseg[i].cuid = MALLORY; cseg[i].uid = SRV; cseg[i].creator = me;
                        cpid[i] = me; nattch[i] = 1;
                        hello = 1;
                        i = NSLOTS
                    :: else -> i++
                    fi
                }
            :: else -> break
            od
        :: /* remove whatever she created, at any moment (she is creator) */
            i = 0;
            do
            :: i < NSLOTS ->
                atomic {
                    if
                    :: cset[i].gen != 0 && cset[i].creator == me ->
                        if :: cseg[i].gen != 0 && cseg[i].creator == me -> nattch[i]--; remove_shm(i)
                           :: else -> skip fi;
                        remove_set(i)
                    :: else -> skip
                    fi
                };
                i++
            :: else -> break
            od
        fi
    :: moves >= MOVES -> break
    od;
    /* her exit: the kernel undoes her tokens, drops her attachments */
    atomic {
        i = 0;
        do
        :: i < NSLOTS ->
            if
            :: cset[i].gen != 0 && cset[i].creator == me -> owner[i] = 0; owner_pid[i] = me
            :: else -> skip
            fi;
            if
            :: cseg[i].gen != 0 && cseg[i].creator == me -> nattch[i]--
            :: else -> skip
            fi;
            i++
        :: else -> break
        od;
        ended++
    }
}

/* ----------------------------------------------------------------- server */

/* Server instance `inst` (uid SRV). With may_crash it may die before any
 * step marked SCP: the kernel then drops its attachments and takes its
 * tokens on the connections it accepted down (SEM_UNDO). */
proctype Server(byte inst; bit may_crash)
{
    byte round = 0;
    byte i;
    bit conn[NSLOTS];
    bit tok[NSLOTS];         /* it holds its token on the set it accepted */
    byte conn_set[NSLOTS];   /* the ids it accepted */
    byte conn_shm[NSLOTS];
    byte ident[NSLOTS];
    bit h;
    /* facts of one judgement */
    byte sg, scuid, suid, o, opid, v, mg, mcuid, muid, mn, mcpid;

#define SCP if :: may_crash -> goto crash :: true -> skip fi

    do
    :: round < ROUNDS ->
        round++;
        SCP;
        /* sleep: woken, or a liveness period passed. A restarted server
         * judges every key before its first sleep (next_judge starts at
         * 0), so a hello its dead predecessor took is not lost. */
        atomic {
            assert(hello || robbed || (inst == 2 && round == 1) ||
                   !(hello_pending[0] || hello_pending[1]));
            if :: wake -> wake = 0 :: true -> skip fi
        };
        /* HELLO: GETVAL, then SETVAL 0 before the scan, so that a hello
         * posted during the scan stays up for the next round */
        h = hello;
#ifndef MUT_CLEAR_HELLO_LATE
        if :: h -> hello = 0 :: else -> skip fi;
#endif
        i = 0;
        do
        :: i < NSLOTS && conn[i] ->
            /* a connected client: its token, GETVAL by id (a set removed
             * meanwhile reads as gone: conn_owner). A hello it posted
             * after the server accepted it (a periodic scan got there
             * first) has nothing left to ask: its verdict is given. */
            atomic {
                if :: set_alive(i, conn_set[i]) -> o = owner[i] :: else -> o = 0 fi;
                hello_pending[i] = 0
            };
#ifdef MUT_REMOVE_UNCHECKED
            o = 0;
#endif
            if
            :: o == 0 ->
                /* gone: drain (abstracted), remove both by id, detach */
                atomic {
                    assert(!set_alive(i, conn_set[i]) || owner[i] == 0);
                    if :: shm_alive(i, conn_shm[i]) -> nattch[i]--; remove_shm(i) :: else -> skip fi;
                    if :: set_alive(i, conn_set[i]) -> remove_set(i) :: else -> skip fi
                };
                conn[i] = 0; tok[i] = 0
            :: else -> skip
            fi;
            i++
        :: i < NSLOTS && !conn[i] ->
            /* judge the key (shmchan_conn_judge's order): each fact one
             * system call */
            atomic { sg = cset[i].gen; scuid = cset[i].cuid; suid = cset[i].uid };
            if
            :: sg == 0 -> hello_pending[i] = 0; goto next         /* ABSENT */
            :: sg != 0 && suid != SRV -> goto next                 /* PENDING */
            :: else -> skip
            fi;
            /* the token (GETVAL, GETPID) and VERDICT: metadata, read
             * before anything is decided */
            atomic {
                if
                :: set_alive(i, sg) -> o = owner[i]; opid = owner_pid[i]; v = verdict[i]
                :: else -> o = 255
                fi
            };
            if :: o == 255 -> goto next :: else -> skip fi;      /* EIDRM: gone meanwhile */
#ifndef MUT_UID_BEFORE_DEAD
            if
            :: o == 0 ->
                /* DEAD: ours (given to us), its client gone, whoever made it */
                atomic {
                    if :: same_set(i, sg) -> assert(owner[i] == 0); remove_set(i) :: else -> skip fi;
                    hello_pending[i] = 0
                };
#if WITNESS == 3
                assert(false);                  /* witness: a dead client's leftovers removed */
#endif
                goto next
            :: else -> skip
            fi;
#endif
#ifndef MUT_NO_ALLOW_CHECK
            if
            :: !allowed(scuid) ->
                /* NO DEAD KEY HELD: only a live connection is refused */
                assert(o != 0);
                atomic { if :: same_set(i, sg) -> verdict[i] = V_REFUSED :: else -> skip fi; hello_pending[i] = 0 };
#if WITNESS == 2
                assert(scuid != XAVIER);        /* witness: Xavier is refused */
#endif
                goto next
            :: else -> skip
            fi;
#endif
#ifdef MUT_UID_BEFORE_DEAD
            if
            :: o == 0 ->
                atomic {
                    if :: same_set(i, sg) -> assert(owner[i] == 0); remove_set(i) :: else -> skip fi;
                    hello_pending[i] = 0
                };
                goto next
            :: else -> skip
            fi;
#endif
#ifndef MUT_ADOPT
            /* JUDGED: a verdict is in already (ours, or a dead server's
             * whose client has not left yet): leave it */
            if :: v != V_NONE -> hello_pending[i] = 0; goto next :: else -> skip fi;
#endif
            atomic { mg = cseg[i].gen; mcuid = cseg[i].cuid; muid = cseg[i].uid; mn = nattch[i]; mcpid = cpid[i] };
            if
            :: mg == 0 || muid != SRV || mcuid != scuid || mn != 1 || mcpid != opid || o != 1 ->
                atomic { if :: same_set(i, sg) -> verdict[i] = V_REFUSED :: else -> skip fi; hello_pending[i] = 0 };
                goto next
            :: else -> skip
            fi;
            SCP;
            /* ACCEPT: shmat by id (conn_attach) */
            atomic {
                if
                :: same_shm(i, mg) ->
                    nattch[i]++;
                    /* IDENTITY: what we attached is one process's pair,
                     * both given to us, of an allowed uid - the uid we report */
                    assert(cseg[i].uid == SRV && cset[i].uid == SRV);
                    assert(cseg[i].creator == cset[i].creator);
                    assert(cset[i].cuid == scuid && allowed(scuid));
                    conn[i] = 1; conn_set[i] = sg; conn_shm[i] = mg; ident[i] = scuid
                :: else -> skip
                fi
            };
            if :: !conn[i] -> goto next :: else -> skip fi;
            SCP;
#ifdef MUT_VERDICT_BEFORE_TOKEN
            atomic { if :: same_set(i, sg) -> verdict[i] = V_ACCEPTED; acc_by[i] = inst :: else -> skip fi;
                     hello_pending[i] = 0 };
            SCP;
#endif
            /* its token on the connection, SEM_UNDO, by id; the set gone
             * (its client gave up and removed it): let go (conn_release) */
            atomic {
                if
                :: set_alive(i, sg) -> srv_token[i] = 1; tok[i] = 1
                :: else ->
                    if :: shm_alive(i, mg) -> nattch[i]--; remove_shm(i) :: else -> skip fi;
                    conn[i] = 0
                fi
            };
            if :: !conn[i] -> goto next :: else -> skip fi;
            SCP;
#ifndef MUT_VERDICT_BEFORE_TOKEN
            /* then the verdict, by id. NO ADOPTION: nobody accepted it before */
            atomic {
                if
                :: same_set(i, sg) ->
                    assert(acc_by[i] == 0);
                    verdict[i] = V_ACCEPTED; acc_by[i] = inst
                :: else -> skip
                fi;
                hello_pending[i] = 0
            };
#endif
#if WITNESS == 1
            assert(scuid != ALICE);             /* witness: Alice gets connected */
#endif
#if WITNESS == 4
            assert(!robbed);                    /* witness: connected after a robbed doorbell */
#endif
#if WITNESS == 5
            assert(inst != 2);                  /* witness: the restarted server accepts */
#endif
next:
            i++
        :: i >= NSLOTS -> break
        od;
#ifdef MUT_CLEAR_HELLO_LATE
        if :: h -> hello = 0 :: else -> skip fi;
#endif
    :: round >= ROUNDS -> break
    od;
    /* close: it is gone for its clients from here; removes what it holds,
     * by id, then detaches (its token goes with the set) */
    srv_up[inst] = 0;
    i = 0;
    do
    :: i < NSLOTS ->
        atomic {
            if
            :: conn[i] ->
                if :: shm_alive(i, conn_shm[i]) -> nattch[i]--; remove_shm(i) :: else -> skip fi;
                if :: set_alive(i, conn_set[i]) -> remove_set(i) :: else -> skip fi
            :: else -> skip
            fi
        };
        i++
    :: else -> break
    od;
    goto done;
crash:
    /* kill -9: the kernel undoes its tokens and drops its attachments */
    atomic {
        srv_up[inst] = 0;
        i = 0;
        do
        :: i < NSLOTS ->
            if :: tok[i] && set_alive(i, conn_set[i]) -> srv_token[i] = 0 :: else -> skip fi;
            if :: conn[i] && shm_alive(i, conn_shm[i]) -> nattch[i]-- :: else -> skip fi;
            i++
        :: else -> break
        od
    };
done:
    atomic { ended++ }
#undef SCP
}

init
{
    byte k = 0;
    atomic {
        srv_up[1] = 1;
        run Server(1, RESTART);
        run Client(2, ALICE, CRASH);
#if WITH_XAVIER
        run Client(3, XAVIER, XAVIER_CRASH);
#endif
#if WITH_MALLORY
        run Mallory(4);
#endif
    };
#if RESTART
    /* the next server starts once the first has died or closed (the
     * channel probe finds the first live until then) */
    atomic { srv_up[1] == 0 -> srv_up[2] = 1; run Server(2, 0) };
#endif
    ended == NPROCS;
    /* NO LEFTOVER HELD: everyone has ended; whatever is left has its token
     * down, so the next server or `clean --stale` can judge it stale. */
    do
    :: k < NSLOTS -> assert(cset[k].gen == 0 || owner[k] == 0); k++
    :: else -> break
    od
}

import { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { call, client, session } from './api';
import { PAGES } from './pages';
import type { Me } from './types';
import { ErrorBox } from './ui';

function SignIn({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>();
  return (
    <section className="signin">
      <h2>TokenClear clearing console</h2>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            const me = await call<Me>(client.GET('/v1/me', { headers: { authorization: `Bearer ${key.trim()}` } }));
            if (me.role !== 'clearing') throw new Error('this console is for clearing staff: use a clearing key');
            session.set(key.trim());
            onSignedIn(me);
          } catch (err) {
            setError(err);
          }
        }}
      >
        <label>
          Clearing API key
          <input name="key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} autoFocus />
        </label>
        <p>
          <button type="submit">Sign in</button>
        </p>
      </form>
      <ErrorBox error={error} />
    </section>
  );
}

function useHashRoute(): string {
  const [route, setRoute] = useState(location.hash.slice(2) || 'overview');
  useEffect(() => {
    const on = () => setRoute(location.hash.slice(2) || 'overview');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function App() {
  const [me, setMe] = useState<Me>();
  const [checked, setChecked] = useState(false);
  const route = useHashRoute();
  useEffect(() => {
    if (!session.get()) return setChecked(true);
    call<Me>(client.GET('/v1/me'))
      .then(setMe, () => session.clear())
      .finally(() => setChecked(true));
  }, []);
  if (!checked) return null;
  if (!me) return <SignIn onSignedIn={setMe} />;
  const page = PAGES.find((p) => p.id === route) ?? PAGES[0];
  return (
    <>
      <header>
        <h1>TokenClear</h1>
        <nav aria-label="console">
          {PAGES.map((p) => (
            <a key={p.id} href={`#/${p.id}`} aria-current={p.id === page.id ? 'page' : undefined}>
              {p.title}
            </a>
          ))}
        </nav>
        <button className="secondary" onClick={() => (session.clear(), setMe(undefined))}>
          Sign out
        </button>
      </header>
      <main>
        <page.component me={me} />
      </main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(<App />);

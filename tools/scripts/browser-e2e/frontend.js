// The test front end's own calls to authapi: plain cross-origin fetches, as a
// single-page app makes them. The API's URL comes from the page's query
// string (?api=http://127.0.0.1:8080), since the test chooses its ports.
const API_URL = new URL(location.href).searchParams.get('api');

// apiRequest calls the API and returns what the browser lets the page see of
// the answer: its status, the headers readable from script, and its JSON
// body. If the browser refuses the call (a CORS failure, for one), it returns
// the error fetch rejected with instead, by name and message.
async function apiRequest(method, path, { body, token } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(API_URL + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    return { error: { name: err.name, message: err.message } };
  }
  const text = await res.text();
  return {
    status: res.status,
    headers: Object.fromEntries(res.headers),
    body: text ? JSON.parse(text) : null,
  };
}
